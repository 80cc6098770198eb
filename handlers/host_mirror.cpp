#include "handlers/host_mirror.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "sys/fd.hpp"
#include "sys/files.hpp"

namespace ecifs::handlers {

namespace {

// A directory shown empty is sysfs's mount point for another filesystem, as an
// unmounted one looks (kernfs makes them 0555).
NodeInfo empty_dir_info() { return NodeInfo{true, false, 0555}; }

}  // namespace

HostMirror::HostMirror(std::string host_root, std::vector<std::string> empty_dirs)
    : host_root_(std::move(host_root)), empty_dirs_(std::move(empty_dirs)) {}

bool HostMirror::is_empty_dir(std::string_view path) const {
    return std::find(empty_dirs_.begin(), empty_dirs_.end(), path) != empty_dirs_.end();
}

bool HostMirror::inside_empty_dir(std::string_view path) const {
    return std::any_of(empty_dirs_.begin(), empty_dirs_.end(), [&](const std::string& dir) {
        return path.size() > dir.size() && path.starts_with(dir) && path[dir.size()] == '/';
    });
}

std::string HostMirror::host_path(std::string_view path) const {
    return path.empty() ? host_root_ : host_root_ + "/" + std::string(path);
}

// The host's modes and owners (the kernel's: its root, which the container sees as
// nobody), so its root may read what "other" may and write nothing; the view is also
// read-only.
int HostMirror::stat(const Context&, std::string_view path, NodeInfo& out) const {
    if (inside_empty_dir(path)) return ENOENT;
    struct stat st {};
    if (::lstat(host_path(path).c_str(), &st) != 0) return errno;
    out = is_empty_dir(path) ? empty_dir_info() : NodeInfo::of_host_file(st);
    return 0;
}

int HostMirror::list(const Context&, std::string_view dir, std::vector<std::pair<std::string, NodeInfo>>& out) const {
    if (is_empty_dir(dir)) return 0;
    if (inside_empty_dir(dir)) return ENOENT;
    std::vector<std::pair<std::string, struct stat>> entries;
    if (int err = sys::list_directory(host_path(dir), entries)) return err;
    for (auto& [name, st] : entries) {
        std::string child = dir.empty() ? name : std::string(dir) + "/" + name;
        out.emplace_back(std::move(name), is_empty_dir(child) ? empty_dir_info() : NodeInfo::of_host_file(st));
    }
    return 0;
}

// A sysfs binary attribute (/sys/kernel/btf/vmlinux, several MB) shows its length as
// its size: the text is read into one allocation of that length, not grown piecemeal.
// A text attribute shows a page's size whatever its length.
int HostMirror::read(const Context&, std::string_view path, std::string& out) const {
    if (inside_empty_dir(path)) return ENOENT;
    const sys::Fd file(::open(host_path(path).c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!file) return errno;
    struct stat st {};
    if (::fstat(file.get(), &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0)
        out.reserve(out.size() + static_cast<size_t>(st.st_size));
    return sys::read_to_end(file.get(), out);
}

int HostMirror::write(const Context&, std::string_view, std::string_view) const { return EACCES; }

int HostMirror::readlink(const Context&, std::string_view path, std::string& out) const {
    if (inside_empty_dir(path)) return ENOENT;
    char buf[4096];
    ssize_t n = ::readlink(host_path(path).c_str(), buf, sizeof buf);
    if (n < 0) return errno;
    out.assign(buf, static_cast<size_t>(n));
    return 0;
}

}  // namespace ecifs::handlers
