#include "seccomp/trapper.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <fmt/core.h>
#include <spdlog/spdlog.h>

#include "ns/executor.hpp"
#include "seccomp/helper_job.hpp"
#include "seccomp/io.hpp"
#include "seccomp/mount_helper.hpp"
#include "seccomp/mount_request.hpp"
#include "seccomp/mounts.hpp"
#include "seccomp/notify.hpp"
#include "seccomp/own_mounts.hpp"
#include "seccomp/sysinfo.hpp"
#include "seccomp/table.hpp"
#include "sys/caller_task.hpp"
#include "sys/log_limit.hpp"

namespace ecifs::seccomp {

namespace {

namespace mh = mount_helper;

// Notifications one notify fd answers before the loop runs other work.
constexpr int notifications_per_turn = 16;
// Helpers running at once for one notify fd; more calls wait in the kernel's queue. One:
// the kernel serializes a namespace's mount calls (namespace_sem), and a helper's checks
// (a filesystem already mounted there) hold only if no other call changes the mounts
// meanwhile.
constexpr int max_helpers_per_fd = 1;
// A helper stuck longer (in a path walk into a hung filesystem of the container's) is
// killed, and the call fails with EIO and a log line.
constexpr auto helper_timeout = std::chrono::seconds(30);

}  // namespace

class NotifyFd : public std::enable_shared_from_this<NotifyFd> {
public:
    NotifyFd(SeccompTrapper& trapper, boost::asio::io_context& io, int fd, TrapTarget target,
             SeccompTrapper::Counters& counters, std::shared_ptr<SeccompTrapper::Counters> container_counters)
        : trapper_(trapper),
          io_(io),
          readable_(Readable::create(io, fd)),
          target_(std::move(target)),
          own_mounts_(target_.own_mounts ? target_.own_mounts : std::make_shared<OwnMounts>()),
          counters_(counters),
          container_counters_(std::move(container_counters)) {}

    const std::string& id() const { return target_.id; }
    const std::function<void()>& released() const { return target_.released; }
    void start() {
        take_up_pending();
        arm();
    }

    void close() {
        std::lock_guard lock(mutex_);
        if (closed_) return;
        closed_ = true;
        readable_->close();
    }

private:
    // Calls an earlier daemon took on this fd and did not answer (docs/restart.md): their
    // callers still wait, so they are handled now, as if just received.
    void take_up_pending() {
        if (!target_.pending) return;
        for (const auto& call : target_.pending->take_over()) {
            const seccomp::Notification& n = call.notification;
            if (!valid(n.id)) {  // answered, or its caller is gone
                target_.pending->answered(n.id);
                continue;
            }
            spdlog::info("container {}: taking up trapped call {} of pid {} from an earlier daemon", id(), n.id, n.pid);
            if (call.unmounting && unmount_carried_out(call)) {  // not a second time
                const uint64_t gone[] = {call.unmounting};
                own_mounts_->remove(call.mount_ns, gone);
                answer(n.id, 0);
                continue;
            }
            handle_taken(n);
        }
    }

    void handle_taken(const seccomp::Notification& n) {
        if (target_.pending) target_.pending->taken(n);
        try {
            handle(n);
        } catch (const std::exception& e) {
            fail(n.id, e.what());
        }
    }

    void arm() {
        readable_->wait([self = shared_from_this()](bool readable) {
            if (readable) self->drain();
        });
    }

    // Take the pending notifications, then wait again; stop at the helper limit (a
    // helper that finishes resumes), release the fd when its processes are gone. After
    // a few, go to the back of the loop's queue: a process calling sysinfo in a tight
    // loop must not keep a pool thread from the FUSE requests and the other fds.
    void drain() {
        for (int budget = notifications_per_turn;; --budget) {
            if (budget == 0) {
                boost::asio::post(io_, [self = shared_from_this()] { self->drain(); });
                return;
            }
            seccomp::Notification n;
            enum { got, none, gone } what;
            {
                std::lock_guard lock(mutex_);
                if (closed_) return;
                if (in_flight_ >= max_helpers_per_fd) {
                    stalled_ = true;
                    return;
                }
                pollfd p{readable_->fd(), POLLIN, 0};
                ::poll(&p, 1, 0);
                if (p.revents & POLLIN) {
                    int err = target_.pending ? target_.pending->receive(readable_->fd(), n)
                                              : seccomp::receive(readable_->fd(), n);
                    if (err == ENOENT) continue;  // its caller was killed meanwhile
                    if (err) spdlog::error("container {}: seccomp receive: {}", id(), std::strerror(err));
                    what = err ? gone : got;
                } else {
                    what = (p.revents & (POLLHUP | POLLERR | POLLNVAL)) ? gone : none;
                }
            }
            if (what == none) return arm();
            if (what == gone) return trapper_.release(shared_from_this());
            handle_taken(n);
        }
    }

    void handle(const seccomp::Notification& n) {
        const auto call = seccomp::identify(n.arch, n.nr);
        if (!call) {
            sys::log_limited(spdlog::level::warn, id(), "unexpected", "container {}: unexpected trapped syscall {} "
                             "(arch {:#x})", id(), n.nr, n.arch);
            return answer(n.id, ENOSYS);
        }
        switch (*call) {
        case seccomp::Syscall::sysinfo: return sysinfo(n);
        case seccomp::Syscall::mount: return mount(n);
        case seccomp::Syscall::umount2: return umount(n, n.args[1]);
        case seccomp::Syscall::umount: return umount(n, 0);
        }
    }

    void sysinfo(const seccomp::Notification& n) {
        SysinfoFigures figures;
        try {
            figures = container_sysinfo(*target_.container, n.pid);
        } catch (const std::exception& e) {
            return fail(n.id, fmt::format("sysinfo: {}", e.what()));
        }
        const auto bytes = seccomp::abi_of(n.arch) == seccomp::Abi::native ? encode_native(figures) : encode_compat(figures);
        // The one write into a container process: only while the caller is still blocked in
        // this very call (so n.pid is still it), and only the struct it asked for.
        std::lock_guard lock(mutex_);
        if (closed_ || !seccomp::id_valid(readable_->fd(), n.id)) return;
        int err = seccomp::write_memory(n.pid, n.args[0], bytes);
        respond_locked(n.id, err ? EFAULT : 0);
    }

    void mount(const seccomp::Notification& n) { to_helper(n, mount_call(n, target_, reader(n))); }
    void umount(const seccomp::Notification& n, uint64_t flags) { to_helper(n, umount_call(n, flags, reader(n))); }

    void to_helper(const seccomp::Notification& n, MountCall call) {
        if (call.decision == MountCall::kernel) return let_kernel(n.id);
        if (call.decision == MountCall::helper) run_helper(n, std::move(call.request));
    }

    ReadArgument reader(const seccomp::Notification& n) {
        return [this, &n](uint64_t address, std::size_t max, std::string& out) {
            return read_argument(n, address, max, out);
        };
    }

    // A string argument of the caller. false: the call is answered already (EFAULT or
    // ENAMETOOLONG, as the kernel would) or the caller is gone.
    bool read_argument(const seccomp::Notification& n, uint64_t address, std::size_t max, std::string& out) {
        int err = seccomp::read_string(n.pid, address, max, out);
        if (!valid(n.id)) return false;
        if (err == ESRCH) return false;
        if (err) {
            answer(n.id, err);
            return false;
        }
        return true;
    }

    void run_helper(const seccomp::Notification& n, mh::Request request) {
        // n.pid is the calling thread (any thread of its process): reach it by /proc/TID.
        sys::Fd task = sys::open_task_dir(n.pid);
        if (!task) {
            const int err = errno;
            if (valid(n.id)) fail(n.id, fmt::format("opening /proc/{}: {}", n.pid, std::strerror(err)));
            return;  // else the caller is gone: nothing to answer
        }
        // The caller's fds and credentials: its own only if it is still blocked in this
        // call after they are read (the identity race, mount_helper.hpp: Caller).
        mh::Caller caller;
        const int err = mh::open_caller(task.get(), caller, request);
        if (!valid(n.id)) return;  // gone, or a sibling's exec took its pid: no answer is heard
        if (err) return fail(n.id, fmt::format("opening /proc/{}: {}", n.pid, std::strerror(err)));
        // A blocked thread cannot change its mount namespace: the helper acts in this one.
        sys::Fd mnt_ns(::fcntl(caller.mnt_ns(), F_DUPFD_CLOEXEC, 0));
        if (!mnt_ns) return fail(n.id, fmt::format("the mount namespace of {}: {}", n.pid, std::strerror(errno)));
        request.own = own_mounts_for(mnt_ns.get());
        mh::Spawned spawned;
        try {
            spawned = mh::spawn(request, caller, ns::self_executable());
        } catch (const std::exception& e) {
            return fail(n.id, e.what());
        }
        {
            std::lock_guard lock(mutex_);
            ++in_flight_;
        }
        auto job = std::make_shared<HelperJob>(io_, std::move(spawned), std::move(mnt_ns), std::move(task), request.op,
                                               std::move(request.creds));
        job->timer.expires_after(helper_timeout);
        job->timer.async_wait([pid = job->pid, id = id()](const boost::system::error_code& ec) {
            if (ec) return;
            spdlog::error("container {}: mount helper {} takes too long, killing it", id, pid);
            ::kill(pid, SIGKILL);
        });
        wait_reply(n, std::move(job));
    }

    // The container's mounts in that namespace, after letting go of the namespaces it
    // has left.
    std::vector<seccomp::OwnMount> own_mounts_for(int mnt_ns) {
        if (own_mounts_->namespaces() == 0) return {};
        if (auto init = target_.container->init()) own_mounts_->prune(init->cgroup.threads());
        return own_mounts_->in(mnt_ns);
    }

    // The helper's reply comes before it exits (a new mount waits for its verdict).
    void wait_reply(const seccomp::Notification& n, std::shared_ptr<HelperJob> job) {
        auto reply = job->reply;
        reply->wait([self = shared_from_this(), n, job = std::move(job)](bool) mutable {
            std::string buf(65536, '\0');
            ssize_t got = ::recv(job->socket.get(), buf.data(), buf.size(), MSG_DONTWAIT);
            if (got < 0 && errno == EAGAIN) return self->wait_reply(n, std::move(job));  // a stray wake-up
            auto decoded = got > 0 ? mh::decode_reply(std::string_view(buf.data(), static_cast<std::size_t>(got)))
                                   : std::nullopt;
            if (decoded && decoded->unmounting) {
                self->go_ahead(n, *job, decoded->unmounting);
                return self->wait_reply(n, std::move(job));
            }
            if (decoded) self->take_reply(n, *job, *decoded);
            self->wait_exit(n, std::move(job));
        });
    }

    // The helper may unmount once that is written down (mh::confirm_unmount).
    void go_ahead(const seccomp::Notification& n, HelperJob& job, uint64_t mount) {
        const ino_t mnt_ns = OwnMounts::inode_of(job.mnt_ns.get());
        const bool kept = !target_.pending || target_.pending->unmounting(n, mnt_ns, mount);
        const char go = kept ? mh::go_ahead : mh::undo;
        ::send(job.socket.get(), &go, 1, MSG_NOSIGNAL | MSG_DONTWAIT);
    }

    void wait_exit(const seccomp::Notification& n, std::shared_ptr<HelperJob> job) {
        auto exit = job->exit;
        exit->wait([self = shared_from_this(), n, job = std::move(job)](bool) mutable {
            int status = 0;
            pid_t r = ::waitpid(job->pid, &status, WNOHANG);
            if (r == 0) return self->wait_exit(n, std::move(job));  // not yet: a stray wake-up
            self->helper_done(n, *job, status);
        });
    }

    void take_reply(const seccomp::Notification& n, HelperJob& job, mh::Reply reply) {
        job.answered = true;
        if (reply.let_kernel) return let_kernel(n.id);
        if (!reply.message.empty()) {
            count(&SeccompTrapper::Counters::failed);
            sys::log_limited(spdlog::level::warn, id(), op_name(job.op), "container {}: {} by pid {}: {}", id(),
                             op_name(job.op), n.pid, reply.message);
        }
        sys::log_limited(spdlog::level::debug, id(), "done", "container {}: {} by pid {}: {}", id(), op_name(job.op),
                         n.pid, reply.error ? std::strerror(reply.error) : "done");
        if (!mh::awaits_verdict(job.op, reply)) {
            remember(job, reply);
            return answer(n.id, reply.error);
        }
        // A new mount stays only if the caller hears of it (mh::awaits_verdict): the
        // answer is the check, as the kernel delivers it only to a caller still blocked
        // in this very call. Its credentials cannot have changed (mh::Caller): compared
        // all the same. It is written down before the caller hears of it (a restart in
        // between must know it), and taken back if it is undone.
        const ino_t mnt_ns = OwnMounts::inode_of(job.mnt_ns.get());
        remember(job, reply);
        bool kept = false;
        if (sys::Credentials now; mh::read_caller_credentials(job.task.get(), now) == 0 && now == job.creds) {
            kept = answer_heard(n.id, 0);
        } else {
            // It was signalled out of its call (glibc's setxid signal changes every
            // thread's ids), so this answer reaches nobody; the restarted call comes anew.
            sys::log_limited(spdlog::level::debug, id(), "credentials",
                             "container {}: the credentials of pid {} changed during its mount call", id(), n.pid);
            answer(n.id, EPERM);
        }
        const char verdict = kept ? mh::keep : mh::undo;
        ::send(job.socket.get(), &verdict, 1, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (!kept) {
            sys::log_limited(spdlog::level::debug, id(), "undone", "container {}: pid {} left its {} call: undone",
                             id(), n.pid, op_name(job.op));
            std::vector<uint64_t> undone = reply.dressing;
            undone.push_back(reply.made);
            own_mounts_->remove(mnt_ns, undone);
        }
    }

    void helper_done(const seccomp::Notification& n, HelperJob& job, int status) {
        job.timer.cancel();
        if (!job.answered)
            fail(n.id, fmt::format("{}: the mount helper {} ended without an answer (wait status {:#x})", op_name(job.op),
                                   job.pid, status));
        bool resume;
        {
            std::lock_guard lock(mutex_);
            --in_flight_;
            resume = std::exchange(stalled_, false);
        }
        if (resume) drain();
    }

    // What the helper made or unmounted for the container.
    void remember(HelperJob& job, const mh::Reply& reply) {
        if (!reply.gone.empty()) own_mounts_->remove(job.mnt_ns.get(), reply.gone);
        if (reply.made) own_mounts_->add(std::move(job.mnt_ns), reply.made, reply.dressing);
    }

    // ---- answers: under the lock, so that close() never races an ioctl on the fd ----

    bool valid(uint64_t id) {
        std::lock_guard lock(mutex_);
        return !closed_ && seccomp::id_valid(readable_->fd(), id);
    }

    void settled(uint64_t id) {
        if (target_.pending) target_.pending->answered(id);
    }

    void count(std::atomic<uint64_t> SeccompTrapper::Counters::*which) {
        ++(counters_.*which);
        ++((*container_counters_).*which);
    }

    void respond_locked(uint64_t id, int error) {
        count(&SeccompTrapper::Counters::answered);
        int err = seccomp::respond(readable_->fd(), id, error);
        settled(id);
        if (err && err != ENOENT) spdlog::warn("container {}: seccomp answer: {}", this->id(), std::strerror(err));
    }

    void answer(uint64_t id, int error) {
        std::lock_guard lock(mutex_);
        if (!closed_) respond_locked(id, error);
    }

    // Whether the answer reached the caller: false if it has left the call meanwhile.
    bool answer_heard(uint64_t id, int error) {
        std::lock_guard lock(mutex_);
        if (closed_) return false;
        count(&SeccompTrapper::Counters::answered);
        const int err = seccomp::respond(readable_->fd(), id, error);
        settled(id);
        if (err && err != ENOENT) spdlog::warn("container {}: seccomp answer: {}", this->id(), std::strerror(err));
        return err == 0;
    }

    void let_kernel(uint64_t id) {
        std::lock_guard lock(mutex_);
        if (closed_) return;
        count(&SeccompTrapper::Counters::continued);
        int err = seccomp::respond_continue(readable_->fd(), id);
        settled(id);
        if (err && err != ENOENT) spdlog::warn("container {}: seccomp continue: {}", this->id(), std::strerror(err));
    }

    // Fail closed, loudly: EIO to the caller, a log line, a counter.
    void fail(uint64_t id, const std::string& what) {
        count(&SeccompTrapper::Counters::failed);
        sys::log_limited(spdlog::level::err, this->id(), "failed", "container {}: trapped call failed: {}", this->id(),
                         what);
        answer(id, EIO);
    }

    SeccompTrapper& trapper_;
    boost::asio::io_context& io_;
    std::shared_ptr<Readable> readable_;
    const TrapTarget target_;
    const std::shared_ptr<OwnMounts> own_mounts_;
    SeccompTrapper::Counters& counters_;
    const std::shared_ptr<SeccompTrapper::Counters> container_counters_;
    std::mutex mutex_;
    bool closed_ = false;
    int in_flight_ = 0;
    bool stalled_ = false;
};

SeccompTrapper::SeccompTrapper(boost::asio::io_context& io) : io_(io) {}

SeccompTrapper::~SeccompTrapper() { stop(); }

void SeccompTrapper::add(int notify_fd, TrapTarget target) {
    std::shared_ptr<NotifyFd> fd;
    {
        std::lock_guard lock(mutex_);
        if (stopped_) {
            ::close(notify_fd);
            return;
        }
        const std::string id = target.id;
        auto& mine = per_container_[id];
        if (!mine) mine = std::make_shared<Counters>();
        fd = std::make_shared<NotifyFd>(*this, io_, notify_fd, std::move(target), counters_, mine);
        fds_[id].insert(fd);
    }
    fd->start();
}

void SeccompTrapper::release(const std::shared_ptr<NotifyFd>& fd) {
    {
        std::lock_guard lock(mutex_);
        auto it = fds_.find(fd->id());
        if (it != fds_.end()) {
            it->second.erase(fd);
            if (it->second.empty()) fds_.erase(it);
        }
    }
    fd->close();
    if (fd->released()) fd->released()();  // e.g. the fd holder's copy goes too
}

void SeccompTrapper::forget(const std::string& id) {
    std::set<std::shared_ptr<NotifyFd>> fds;
    {
        std::lock_guard lock(mutex_);
        per_container_.erase(id);
        auto it = fds_.find(id);
        if (it == fds_.end()) return;
        fds.swap(it->second);
        fds_.erase(it);
    }
    for (const auto& fd : fds) fd->close();
}

void SeccompTrapper::stop() {
    std::map<std::string, std::set<std::shared_ptr<NotifyFd>>> all;
    {
        std::lock_guard lock(mutex_);
        stopped_ = true;
        all.swap(fds_);
    }
    for (const auto& [id, fds] : all)
        for (const auto& fd : fds) fd->close();
}

SeccompTrapper::Counts SeccompTrapper::counts(const std::string& id) const {
    std::lock_guard lock(mutex_);
    auto it = per_container_.find(id);
    if (it == per_container_.end()) return {};
    return {it->second->answered.load(), it->second->continued.load(), it->second->failed.load()};
}

std::size_t SeccompTrapper::count(const std::string& id) const {
    std::lock_guard lock(mutex_);
    auto it = fds_.find(id);
    return it == fds_.end() ? 0 : it->second.size();
}

}  // namespace ecifs::seccomp
