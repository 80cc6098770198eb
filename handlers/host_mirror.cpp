#include "handlers/host_mirror.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

namespace ecifs::handlers {

namespace {

// The files show as the container root's, so give every class only what the host
// grants "other": a host file only root may read stays unreadable, and nothing is
// writable.
NodeInfo mirrored_info(const struct stat& st) {
    mode_t other = st.st_mode & 05;
    NodeInfo info{S_ISDIR(st.st_mode), S_ISLNK(st.st_mode), static_cast<mode_t>((other << 6) | (other << 3) | other)};
    if (info.is_symlink) info.mode = 0777;
    return info;
}

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

int HostMirror::stat(const Context&, std::string_view path, NodeInfo& out) const {
    if (is_empty_dir(path)) return out = NodeInfo{true, false, 0555}, 0;
    if (inside_empty_dir(path)) return ENOENT;
    struct stat st {};
    if (::lstat(host_path(path).c_str(), &st) != 0) return errno;
    out = mirrored_info(st);
    if (path.empty()) out.mode = 0555;
    return 0;
}

int HostMirror::list(const Context&, std::string_view dir, std::vector<std::pair<std::string, NodeInfo>>& out) const {
    if (is_empty_dir(dir)) return 0;
    if (inside_empty_dir(dir)) return ENOENT;
    DIR* d = ::opendir(host_path(dir).c_str());
    if (!d) return errno;
    while (dirent* entry = ::readdir(d)) {
        std::string name = entry->d_name;
        if (name == "." || name == "..") continue;
        std::string child = dir.empty() ? name : std::string(dir) + "/" + name;
        if (is_empty_dir(child)) continue;  // added below, once
        struct stat st {};
        if (::fstatat(::dirfd(d), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) out.emplace_back(name, mirrored_info(st));
    }
    ::closedir(d);
    for (const auto& empty : empty_dirs_) {
        auto slash = empty.rfind('/');
        std::string parent = slash == std::string::npos ? "" : empty.substr(0, slash);
        if (parent == dir) out.emplace_back(empty.substr(slash + 1), NodeInfo{true, false, 0555});
    }
    return 0;
}

int HostMirror::read(const Context&, std::string_view path, std::string& out) const {
    if (inside_empty_dir(path)) return ENOENT;
    int fd = ::open(host_path(path).c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return errno;
    char buf[8192];
    ssize_t n;
    while ((n = ::read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
    int err = n < 0 ? errno : 0;
    ::close(fd);
    return err;
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
