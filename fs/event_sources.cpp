#include "fs/event_sources.hpp"

#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include <boost/asio/posix/stream_descriptor.hpp>

#include "sys/fd.hpp"

namespace ecifs::fs {

namespace {

struct Source {
    sys::Fd fd;
    int watch = -1;  // the inotify watch of the file it is a trigger on
    bool fired = false;
    fuse_pollhandle* waiting = nullptr;  // a poll(2) to wake when it fires
};

void forget_waiting(Source& source) {
    if (source.waiting) fuse_pollhandle_destroy(source.waiting);
    source.waiting = nullptr;
}

}  // namespace

// Why inotify and not epoll: a PSI trigger's poll hands out its event once
// (psi_trigger_poll clears it), and any poll of the descriptor counts, including the
// one an outer epoll makes to see whether a nested epoll is ready. So the descriptors
// are never put in an epoll set: the kernel also reports a firing as a modification of
// the pressure file (kernfs_notify), which inotify queues, and on that the sources on
// the file are polled here, by their only reader. Nothing is lost between two waits:
// inotify keeps the events until they are read, and the wait is re-armed before reading.
//
// Lock order: `mutex` only; fuse_lowlevel_notify_poll is called under it (it writes a
// notification to /dev/fuse and never waits for a reply).
struct EventSources::Impl : std::enable_shared_from_this<Impl> {
    explicit Impl(boost::asio::io_context& io) : inotify(io) {}

    // The inotify instance, made at the first source: most mounts never have one.
    bool start_locked() {
        if (inotify.is_open()) return true;
        const int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (fd < 0) return false;
        inotify.assign(fd);
        arm();
        return true;
    }

    void arm() {
        inotify.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                           [self = shared_from_this()](const boost::system::error_code& ec) {
                               if (!ec) self->on_readable();
                           });
    }

    void on_readable() {
        std::lock_guard lock(mutex);
        if (stopped) return;
        arm();
        std::unordered_set<int> modified;
        bool overflow = false;
        alignas(inotify_event) char buffer[4096];
        for (;;) {
            const ssize_t n = ::read(inotify.native_handle(), buffer, sizeof buffer);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) break;
            for (ssize_t at = 0; at < n;) {
                const auto* event = reinterpret_cast<const inotify_event*>(buffer + at);
                overflow |= (event->mask & IN_Q_OVERFLOW) != 0;
                modified.insert(event->wd);
                at += static_cast<ssize_t>(sizeof(inotify_event) + event->len);
            }
        }
        for (auto& [id, source] : sources)
            if (overflow || modified.contains(source.watch)) check(source);
    }

    // Whether the source fired (or broke: its cgroup was removed), asked of the kernel.
    void check(Source& source) {
        pollfd p{source.fd.get(), POLLPRI, 0};
        if (::poll(&p, 1, 0) <= 0 || !(p.revents & (POLLPRI | POLLERR))) return;
        source.fired = true;
        if (source.waiting) fuse_lowlevel_notify_poll(source.waiting);
        forget_waiting(source);
    }

    void close_source(Source& source) {
        forget_waiting(source);
        source.fd.reset();
        const int watch = source.watch;
        source.watch = -1;
        for (const auto& [id, other] : sources)
            if (other.watch == watch) return;  // another trigger on the same file
        ::inotify_rm_watch(inotify.native_handle(), watch);
    }

    std::mutex mutex;
    boost::asio::posix::stream_descriptor inotify;
    std::unordered_map<Id, Source> sources;
    Id next_id = 1;
    bool stopped = false;
};

EventSources::EventSources(boost::asio::io_context& io) : impl_(std::make_shared<Impl>(io)) {}

EventSources::~EventSources() { stop(); }

EventSources::Id EventSources::add(int fd) {
    sys::Fd owned(fd);
    std::lock_guard lock(impl_->mutex);
    int watch = -1;
    if (!impl_->stopped && impl_->start_locked()) {
        const auto path = "/proc/self/fd/" + std::to_string(fd);
        watch = ::inotify_add_watch(impl_->inotify.native_handle(), path.c_str(), IN_MODIFY);
    }
    if (watch < 0) {
        const int err = impl_->stopped ? ENODEV : errno;
        owned.reset();
        errno = err;
        return 0;
    }
    const Id id = impl_->next_id++;
    Source& source = impl_->sources.emplace(id, Source{std::move(owned), watch}).first->second;
    impl_->check(source);  // a firing before the watch existed
    return id;
}

void EventSources::remove(Id id) {
    std::lock_guard lock(impl_->mutex);
    const auto it = impl_->sources.find(id);
    if (it == impl_->sources.end()) return;
    Source source = std::move(it->second);
    impl_->sources.erase(it);
    impl_->close_source(source);  // closing the descriptor ends the trigger
}

bool EventSources::poll(Id id, fuse_pollhandle* ph) {
    std::lock_guard lock(impl_->mutex);
    const auto it = impl_->sources.find(id);
    if (it == impl_->sources.end()) {
        if (ph) fuse_pollhandle_destroy(ph);
        return false;
    }
    Source& source = it->second;
    if (ph) {
        forget_waiting(source);
        source.waiting = ph;
    }
    return std::exchange(source.fired, false);
}

void EventSources::stop() {
    std::lock_guard lock(impl_->mutex);
    if (impl_->stopped) return;
    impl_->stopped = true;
    for (auto& [id, source] : impl_->sources) {
        forget_waiting(source);
    }
    impl_->sources.clear();  // closes their descriptors
    boost::system::error_code ignored;
    impl_->inotify.close(ignored);
}

}  // namespace ecifs::fs
