#pragma once
// Reading procfs and sysfs, which report size 0: a file is read until EOF. These return
// 0 or the errno, because that errno is often what a container's reader must get.
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace ecifs::sys {

// The whole file; never follows a symlink in the last component.
int read_file(const std::string& path, std::string& out);
// What is left of an open file, appended to `out`.
int read_to_end(int fd, std::string& out);
// The whole file as read_file reads it; nullopt when it does not exist (ENOENT, ENOTDIR).
// Throws std::system_error on any other error.
std::optional<std::string> read_file_if_exists(const std::filesystem::path& path);

// Writes `text` to `path` whole: a hidden temporary file beside it (".NAME.tmp"), then
// rename(2) over it, so a reader (or a process killed meanwhile) finds the old file or
// the new one, never a part. No fsync: for files that outlive a process, not the machine.
// 0 or the errno.
int replace_file(const std::filesystem::path& path, const std::string& text);

// A directory's entries (without "." and ".."), each with its lstat.
int list_directory(const std::string& path, std::vector<std::pair<std::string, struct stat>>& out);

using SteadyClock = std::function<std::chrono::steady_clock::time_point()>;

// Files kept open and read again with pread from offset 0: one syscall instead of open +
// read + close. cgroupfs and procfs attributes are seq_files, which render afresh on
// every read at offset 0, so a kept descriptor always shows current values.
//
// Only for files that are one seq_file record (cgroupfs attributes like memory.stat or
// cpu.max; not cgroup.procs or tasks, which are lists): such a record comes whole in one
// read when the buffer holds it, so a short read is the end of the file, as it is for a
// regular file.
//
// A file found missing is remembered as missing for `missing_ttl` (no open is tried
// again before). A kept file whose cgroup was removed fails with ENODEV; it is then
// closed and opened again once (ENOENT if the cgroup is gone for good). At most
// kept_file_limit() descriptors are kept in the whole process; beyond that a file is
// opened, read and closed as read_file does. Thread-safe.
class KeptFiles {
public:
    explicit KeptFiles(std::chrono::steady_clock::duration missing_ttl = std::chrono::seconds(1),
                       SteadyClock now = std::chrono::steady_clock::now);
    KeptFiles(const KeptFiles&) = delete;
    KeptFiles& operator=(const KeptFiles&) = delete;
    ~KeptFiles();

    // The whole file, as read_file gives it: 0 or the errno (ENOENT when it is missing).
    int read(const std::string& path, std::string& out);
    // How many descriptors this object keeps open.
    size_t open_count() const;

private:
    struct Handle;
    struct Entry {
        std::shared_ptr<Handle> handle;                   // null: missing
        std::chrono::steady_clock::time_point missing_at;  // when found missing
    };
    // The kept descriptor of `path`, opened now if need be; null with `err` set when the
    // file is missing (err = ENOENT/ENOTDIR) or cannot be opened, or when the process
    // keeps too many (err = 0: read it the plain way).
    std::shared_ptr<Handle> handle_for(const std::string& path, int& err);
    void forget(const std::string& path, const std::shared_ptr<Handle>& handle);

    const std::chrono::steady_clock::duration missing_ttl_;
    const SteadyClock now_;
    mutable std::mutex mutex_;
    std::unordered_map<std::string, Entry> entries_;
};

// The most descriptors all KeptFiles of the process keep open together: half the soft
// RLIMIT_NOFILE at the first use, at most 4096.
size_t kept_file_limit();

}  // namespace ecifs::sys
