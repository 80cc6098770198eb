#include "emulation/files.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

namespace ecifs::emulation {

int read_file(const std::string& path, std::string& out) {
    int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return errno;
    char buffer[8192];
    int err = 0;
    for (;;) {
        ssize_t n = ::read(fd, buffer, sizeof buffer);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) err = errno;
        if (n <= 0) break;
        out.append(buffer, static_cast<size_t>(n));
    }
    ::close(fd);
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

}  // namespace ecifs::emulation
