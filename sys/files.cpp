#include "sys/files.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <system_error>
#include <utility>

#include "sys/fd.hpp"

namespace ecifs::sys {

namespace {

constexpr int open_flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC;

// Descriptors kept by every KeptFiles of the process.
std::atomic<size_t> kept_total{0};

// Reads from offset 0 until a short read (see KeptFiles: one-record seq_files and regular
// files end there). 0 or the errno.
int pread_whole(int fd, std::string& out) {
    char buffer[16384];
    off_t offset = 0;
    for (;;) {
        const ssize_t n = ::pread(fd, buffer, sizeof buffer, offset);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return errno;
        out.append(buffer, static_cast<size_t>(n));
        offset += n;
        if (static_cast<size_t>(n) < sizeof buffer) return 0;
    }
}

bool is_missing(int err) { return err == ENOENT || err == ENOTDIR; }

}  // namespace

int read_file(const std::string& path, std::string& out) {
    const Fd file(::open(path.c_str(), open_flags));
    if (!file) return errno;
    return read_to_end(file.get(), out);
}

int replace_file(const std::filesystem::path& path, const std::string& text) {
    const auto temporary = path.parent_path() / ("." + path.filename().string() + ".tmp");
    Fd fd(::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!fd) return errno;
    const ssize_t written = ::write(fd.get(), text.data(), text.size());
    int err = written < 0 ? errno : written != static_cast<ssize_t>(text.size()) ? ENOSPC : 0;
    fd.reset();
    if (!err && ::rename(temporary.c_str(), path.c_str()) != 0) err = errno;
    if (err) ::unlink(temporary.c_str());
    return err;
}

std::optional<std::string> read_file_if_exists(const std::filesystem::path& path) {
    std::string text;
    const int err = read_file(path.string(), text);
    if (is_missing(err)) return std::nullopt;
    if (err) throw std::system_error(err, std::generic_category(), path.string());
    return text;
}

int read_to_end(int fd, std::string& out) {
    char buffer[8192];
    int err = 0;
    for (;;) {
        ssize_t n = ::read(fd, buffer, sizeof buffer);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) err = errno;
        if (n <= 0) break;
        out.append(buffer, static_cast<size_t>(n));
    }
    return err;
}

int list_directory(const std::string& path, std::vector<std::pair<std::string, struct stat>>& out) {
    DIR* dir = ::opendir(path.c_str());
    if (!dir) return errno;
    while (dirent* entry = ::readdir(dir)) {
        std::string name = entry->d_name;
        if (name == "." || name == "..") continue;
        struct stat st {};
        if (::fstatat(::dirfd(dir), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) out.emplace_back(std::move(name), st);
    }
    ::closedir(dir);
    return 0;
}

size_t kept_file_limit() {
    static const size_t limit = [] {
        rlimit files{};
        if (::getrlimit(RLIMIT_NOFILE, &files) != 0 || files.rlim_cur == RLIM_INFINITY) return size_t{4096};
        return std::min<size_t>(4096, files.rlim_cur / 2);
    }();
    return limit;
}

// One kept descriptor; closed when the last reader using it is done.
struct KeptFiles::Handle {
    explicit Handle(Fd fd) : file(std::move(fd)) {}
    Handle(const Handle&) = delete;
    Handle& operator=(const Handle&) = delete;
    ~Handle() { kept_total.fetch_sub(1); }
    const Fd file;
};

KeptFiles::KeptFiles(std::chrono::steady_clock::duration missing_ttl, SteadyClock now)
    : missing_ttl_(missing_ttl), now_(std::move(now)) {}

KeptFiles::~KeptFiles() = default;

size_t KeptFiles::open_count() const {
    std::lock_guard lock(mutex_);
    return static_cast<size_t>(std::count_if(entries_.begin(), entries_.end(), [](const auto& e) { return e.second.handle != nullptr; }));
}

std::shared_ptr<KeptFiles::Handle> KeptFiles::handle_for(const std::string& path, int& err) {
    std::lock_guard lock(mutex_);
    const auto now = now_();
    if (const auto it = entries_.find(path); it != entries_.end()) {
        if (it->second.handle) return it->second.handle;
        if (now - it->second.missing_at < missing_ttl_) {
            err = ENOENT;
            return nullptr;
        }
        entries_.erase(it);
    }
    err = 0;
    if (kept_total.load() >= kept_file_limit()) return nullptr;
    Fd fd(::open(path.c_str(), open_flags));
    if (!fd) {
        err = errno;
        if (is_missing(err)) entries_[path] = Entry{nullptr, now};
        return nullptr;
    }
    kept_total.fetch_add(1);
    auto handle = std::make_shared<Handle>(std::move(fd));
    entries_[path] = Entry{handle, {}};
    return handle;
}

void KeptFiles::forget(const std::string& path, const std::shared_ptr<Handle>& handle) {
    std::lock_guard lock(mutex_);
    if (const auto it = entries_.find(path); it != entries_.end() && it->second.handle == handle) entries_.erase(it);
}

int KeptFiles::read(const std::string& path, std::string& out) {
    for (int attempt = 0; attempt < 2; ++attempt) {
        int err = 0;
        const auto handle = handle_for(path, err);
        if (!handle) return err ? err : read_file(path, out);
        std::string text;
        err = pread_whole(handle->file.get(), text);
        // ENODEV: the kernfs node was removed (the cgroup is gone, perhaps made again
        // under the same name); ESTALE likewise on network filesystems.
        if (err == ENODEV || err == ESTALE) {
            forget(path, handle);
            continue;
        }
        if (!err) out.append(text);
        return err;
    }
    return ENODEV;
}

}  // namespace ecifs::sys
