#include "seccomp/pending.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <sstream>

#include <fmt/core.h>
#include <spdlog/spdlog.h>

#include "seccomp/mounts.hpp"
#include "sys/caller_task.hpp"
#include "sys/fd.hpp"
#include "sys/files.hpp"
#include "sys/log_limit.hpp"

namespace ecifs::seccomp {

namespace {

std::string encode(const Notification& n) {
    return fmt::format("{} {} {} {} {} {} {} {} {} {}\n", n.id, n.pid, n.arch, n.nr, n.args[0], n.args[1], n.args[2],
                       n.args[3], n.args[4], n.args[5]);
}

// The notification's line, then maybe "unmounting INODE MOUNT".
bool decode(const std::string& text, TakenCall& call) {
    std::istringstream in(text);
    Notification& n = call.notification;
    in >> n.id >> n.pid >> n.arch >> n.nr;
    for (auto& arg : n.args) in >> arg;
    if (in.fail()) return false;
    std::string phase;
    if (!(in >> phase)) return true;  // taken, nothing done yet
    return phase == "unmounting" && (in >> call.mount_ns >> call.unmounting);
}

}  // namespace

bool unmount_carried_out(const TakenCall& call) {
    const sys::Fd task = sys::open_task_dir(static_cast<pid_t>(call.notification.pid));
    const sys::Fd info(task ? ::openat(task.get(), "mountinfo", O_RDONLY | O_CLOEXEC) : -1);
    std::string text;
    if (!info || sys::read_to_end(info.get(), text) != 0) return false;
    for (const MountEntry& entry : parse_mountinfo(text))
        if (entry.id == call.unmounting) return false;
    return true;
}

PendingCalls::PendingCalls(std::filesystem::path dir, std::string key, std::shared_ptr<CallRing> ring)
    : dir_(std::move(dir)), key_(std::move(key)), ring_(std::move(ring)) {
    std::error_code ignored;
    std::filesystem::create_directories(dir_, ignored);
}

std::filesystem::path PendingCalls::file(uint64_t id) const { return dir_ / fmt::format("{}.{}", key_, id); }

int PendingCalls::receive(int notify_fd, Notification& out) const {
    return ring_ ? ring_->receive(notify_fd, out) : seccomp::receive(notify_fd, out);
}

void PendingCalls::taken(const Notification& n) const {
    if (ring_) return ring_->keep(n);
    if (int err = sys::replace_file(file(n.id), encode(n)))
        sys::log_limited(spdlog::level::warn, key_, "pending", "{}: cannot keep a trapped call for a restart: {}",
                         file(n.id).string(), std::strerror(err));
}

bool PendingCalls::unmounting(const Notification& n, ino_t mount_ns, uint64_t mount) const {
    const int err = sys::replace_file(file(n.id), encode(n) + fmt::format("unmounting {} {}\n", mount_ns, mount));
    if (err)
        sys::log_limited(spdlog::level::warn, key_, "pending", "{}: cannot keep an unmount for a restart: {}",
                         file(n.id).string(), std::strerror(err));
    return err == 0;
}

void PendingCalls::answered(uint64_t id) const {
    if (ring_) ring_->release(id);
    ::unlink(file(id).c_str());
}

// The files of this fd's calls.
std::vector<std::filesystem::path> PendingCalls::files() const {
    std::vector<std::filesystem::path> out;
    std::error_code ec;
    const std::string prefix = key_ + ".";
    for (const auto& entry : std::filesystem::directory_iterator(dir_, ec))
        if (entry.path().filename().string().starts_with(prefix)) out.push_back(entry.path());
    return out;
}

std::vector<TakenCall> PendingCalls::take_over() const {
    std::vector<TakenCall> calls;
    for (const auto& path : files()) {
        std::string text;
        TakenCall call;
        if (sys::read_file(path.string(), text) == 0 && decode(text, call)) calls.push_back(call);
        ::unlink(path.c_str());
    }
    if (!ring_) return calls;
    for (const Notification& n : ring_->held())
        if (std::none_of(calls.begin(), calls.end(), [&](const TakenCall& c) { return c.notification.id == n.id; }))
            calls.push_back(TakenCall{n});
    return calls;
}

void PendingCalls::clear() const {
    for (const auto& path : files()) ::unlink(path.c_str());
}

}  // namespace ecifs::seccomp
