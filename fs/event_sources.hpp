#pragma once
// The event sources of one mount's open files (PSI triggers, see handlers::EventSource)
// and the poll(2)s waiting for them.
//
// One inotify instance, a descriptor on the daemon's one io_context, tells when the
// files the sources are triggers on were modified (the kernel reports a PSI event so);
// the sources on them are then polled for POLLPRI, without waiting. No thread ever
// blocks on an event. When a source fires, its handle is marked and a poll(2) waiting
// on that handle is woken (fuse_lowlevel_notify_poll); the next FUSE POLL of the handle
// then reports the event once, as the kernel's psi_trigger_poll does. Sources are
// named by ids, never by pointers, so an event for a source just removed finds nothing.
#include <fuse_lowlevel.h>

#include <cstdint>
#include <memory>

#include <boost/asio/io_context.hpp>

namespace ecifs::fs {

class EventSources {
public:
    using Id = uint64_t;  // 0: none

    explicit EventSources(boost::asio::io_context& io);
    ~EventSources();
    EventSources(const EventSources&) = delete;
    EventSources& operator=(const EventSources&) = delete;

    // Takes `fd` (closed by remove() or stop()) and watches it. 0 (with `fd` closed and
    // errno set) if it cannot be watched.
    Id add(int fd);
    // Closes the source and forgets a poll waiting on it.
    void remove(Id id);
    // A poll of the source's handle: whether it fired since the last poll (which this
    // consumes). `ph`, if given, is woken at the next firing (it replaces an older one)
    // and destroyed; the call takes it in every case.
    bool poll(Id id, fuse_pollhandle* ph);
    // Closes every source and forgets every waiting poll: the mount is going away, and
    // its session with it. Later calls do nothing.
    void stop();

private:
    struct Impl;
    std::shared_ptr<Impl> impl_;
};

}  // namespace ecifs::fs
