#pragma once
// One mount helper at work for a trapped call (seccomp/trapper.cpp): its process, its
// reply socket and exit, its deadline, and what the trapper needs to know of the caller
// when the reply comes.
#include <fcntl.h>
#include <sys/types.h>

#include <memory>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "seccomp/io.hpp"
#include "seccomp/mount_helper.hpp"
#include "sys/credentials.hpp"
#include "sys/fd.hpp"

namespace ecifs::seccomp {

namespace mh = mount_helper;

inline const char* op_name(mh::Op op) {
    switch (op) {
    case mh::Op::new_mount: return "mount";
    case mh::Op::umount: return "umount2";
    case mh::Op::move: return "mount --move";
    case mh::Op::bind: return "mount --bind";
    }
    return "?";
}

struct HelperJob {
    HelperJob(boost::asio::io_context& io, mh::Spawned s, sys::Fd caller_mnt_ns, sys::Fd caller_task, mh::Op op,
              sys::Credentials caller_creds)
        : pid(s.pid),
          reply(Readable::create(io, ::fcntl(s.socket.get(), F_DUPFD_CLOEXEC, 0))),
          socket(std::move(s.socket)),
          exit(Readable::create(io, s.pidfd.release())),
          timer(io),
          mnt_ns(std::move(caller_mnt_ns)),
          task(std::move(caller_task)),
          op(op),
          creds(std::move(caller_creds)) {}
    ~HelperJob() { reply->close(), exit->close(); }
    pid_t pid;
    std::shared_ptr<Readable> reply;  // the socket, readable once the helper has answered
    sys::Fd socket;
    std::shared_ptr<Readable> exit;
    boost::asio::steady_timer timer;
    sys::Fd mnt_ns;  // the caller's mount namespace, where the helper acted
    sys::Fd task;    // the caller's /proc/TID
    mh::Op op;
    sys::Credentials creds;  // the caller's, as the helper took them
    bool answered = false;   // the helper's reply has been taken
};

}  // namespace ecifs::seccomp
