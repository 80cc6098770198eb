// Reading and replacing a bundle's config.json (oci_config.hpp).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include <fmt/core.h>

#include "shim/oci_config.hpp"

namespace ecifs::shim {

using nlohmann::json;

namespace {

void write_all(int fd, std::string_view data) {
    while (!data.empty()) {
        ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw OciError(fmt::format("writing config.json: {}", std::strerror(errno)));
        data.remove_prefix(static_cast<size_t>(n));
    }
}

void write_temp(int fd, const struct stat& original, std::string_view text) {
    if (::fchmod(fd, original.st_mode & 07777) != 0)
        throw OciError(fmt::format("chmod of new config.json: {}", std::strerror(errno)));
    // Keep the owner where we may (as root); otherwise the file becomes ours.
    if (::fchown(fd, original.st_uid, original.st_gid) != 0 && errno != EPERM)
        throw OciError(fmt::format("chown of new config.json: {}", std::strerror(errno)));
    write_all(fd, text);
    if (::fsync(fd) != 0) throw OciError(fmt::format("fsync of new config.json: {}", std::strerror(errno)));
}

}  // namespace

json read_config(const std::filesystem::path& file) {
    std::ifstream in(file);
    if (!in) throw OciError(fmt::format("cannot read {}: {}", file.string(), std::strerror(errno)));
    json config = json::parse(in, nullptr, false);
    if (config.is_discarded() || !config.is_object())
        throw OciError(fmt::format("{} is not a valid JSON object", file.string()));
    return config;
}

void write_config_atomically(const std::filesystem::path& file, const json& config) {
    struct stat original{};
    if (::stat(file.c_str(), &original) != 0)
        throw OciError(fmt::format("cannot stat {}: {}", file.string(), std::strerror(errno)));
    std::string temp = (file.parent_path() / fmt::format(".{}.ecifs-XXXXXX", file.filename().string())).string();
    int fd = ::mkostemp(temp.data(), O_CLOEXEC);
    if (fd < 0) throw OciError(fmt::format("cannot create a file beside {}: {}", file.string(), std::strerror(errno)));
    try {
        write_temp(fd, original, config.dump(1, '\t') + "\n");
        if (::close(fd) != 0) {
            fd = -1;
            throw OciError(fmt::format("closing new config.json: {}", std::strerror(errno)));
        }
        fd = -1;
        if (::rename(temp.c_str(), file.c_str()) != 0)
            throw OciError(fmt::format("cannot replace {}: {}", file.string(), std::strerror(errno)));
    } catch (...) {
        if (fd >= 0) ::close(fd);
        ::unlink(temp.c_str());
        throw;
    }
}

}  // namespace ecifs::shim
