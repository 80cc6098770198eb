#include "seccomp/pending.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <sstream>

#include <fmt/core.h>
#include <spdlog/spdlog.h>

#include "sys/fd.hpp"
#include "sys/files.hpp"
#include "sys/log_limit.hpp"

namespace ecifs::seccomp {

namespace {

std::string encode(const Notification& n) {
    return fmt::format("{} {} {} {} {} {} {} {} {} {}\n", n.id, n.pid, n.arch, n.nr, n.args[0], n.args[1], n.args[2],
                       n.args[3], n.args[4], n.args[5]);
}

bool decode(const std::string& text, Notification& n) {
    std::istringstream in(text);
    in >> n.id >> n.pid >> n.arch >> n.nr;
    for (auto& arg : n.args) in >> arg;
    return !in.fail();
}

}  // namespace

PendingCalls::PendingCalls(std::filesystem::path dir, std::string key) : dir_(std::move(dir)), key_(std::move(key)) {
    std::error_code ignored;
    std::filesystem::create_directories(dir_, ignored);
}

std::filesystem::path PendingCalls::file(uint64_t id) const { return dir_ / fmt::format("{}.{}", key_, id); }

void PendingCalls::taken(const Notification& n) const {
    const std::string text = encode(n);
    sys::Fd fd(::open(file(n.id).c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!fd || ::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size()))
        sys::log_limited(spdlog::level::warn, key_, "pending", "{}: cannot keep a trapped call for a restart: {}",
                         file(n.id).string(), std::strerror(errno));
}

void PendingCalls::answered(uint64_t id) const { ::unlink(file(id).c_str()); }

// The files of this fd's calls.
std::vector<std::filesystem::path> PendingCalls::files() const {
    std::vector<std::filesystem::path> out;
    std::error_code ec;
    const std::string prefix = key_ + ".";
    for (const auto& entry : std::filesystem::directory_iterator(dir_, ec))
        if (entry.path().filename().string().starts_with(prefix)) out.push_back(entry.path());
    return out;
}

std::vector<Notification> PendingCalls::take_over() const {
    std::vector<Notification> calls;
    for (const auto& path : files()) {
        std::string text;
        Notification n;
        if (sys::read_file(path.string(), text) == 0 && decode(text, n)) calls.push_back(n);
        ::unlink(path.c_str());
    }
    return calls;
}

void PendingCalls::clear() const {
    for (const auto& path : files()) ::unlink(path.c_str());
}

}  // namespace ecifs::seccomp
