#pragma once
// What the FUSE operations say to the kernel: the replies to its requests and the
// store notifications of the mount's session. The daemon's Kernel is libfuse's
// (libfuse_kernel); a unit test's records what it is told, so that the operations run
// without a mount. One virtual call per reply or notification, none per byte.
#include <fuse_lowlevel.h>
#include <sys/stat.h>

#include <cstddef>
#include <memory>
#include <string_view>

namespace ecifs::fs {

class Kernel {
public:
    virtual ~Kernel() = default;

    // As the fuse_reply_* they stand for: 0, or a negative errno (for an open: the
    // kernel did not take it, the opener was interrupted).
    virtual int reply_err(fuse_req_t, int err) = 0;  // err 0: done, nothing to send
    virtual void reply_none(fuse_req_t) = 0;
    virtual int reply_entry(fuse_req_t, const fuse_entry_param&) = 0;
    virtual int reply_attr(fuse_req_t, const struct stat&, double timeout) = 0;
    virtual int reply_open(fuse_req_t, const fuse_file_info&) = 0;
    virtual int reply_buf(fuse_req_t, const char* data, size_t size) = 0;
    virtual int reply_write(fuse_req_t, size_t count) = 0;
    virtual int reply_poll(fuse_req_t, unsigned revents) = 0;
    virtual int reply_readlink(fuse_req_t, const char* link) = 0;

    // fuse_lowlevel_notify_store: put `data` in the inode's page cache at `offset`;
    // 0 or a negative errno.
    virtual int notify_store(fuse_ino_t ino, off_t offset, std::string_view data) = 0;
};

// The Kernel of a libfuse session.
std::unique_ptr<Kernel> libfuse_kernel(fuse_session* session);

}  // namespace ecifs::fs
