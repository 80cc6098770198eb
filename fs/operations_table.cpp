#include "fs/operations.hpp"

// The table given to libfuse: each entry turns libfuse's request into a Request and
// calls the operation (fs/operations.cpp), which never sees libfuse's request itself.
namespace ecifs::fs {

namespace {

Request request_of(fuse_req_t req) {
    return {req, *static_cast<MountState*>(fuse_req_userdata(req)), fuse_req_ctx(req)->pid};
}

// An entry of the table: libfuse's request becomes a Request, the other arguments pass
// as they are.
template <auto operation, typename... Args>
void entry(fuse_req_t req, Args... args) {
    operation(request_of(req), args...);
}

// The same for a request counted in the mount's stats under its inode (a lookup: under
// the directory looked in).
template <auto operation, RequestKind kind, typename... Args>
void counted(fuse_req_t req, fuse_ino_t ino, Args... args) {
    Request r = request_of(req);
    r.ino = ino;
    r.kind = kind;
    r.started = RequestStats::Clock::now();
    operation(r, ino, args...);
}

fuse_lowlevel_ops make_operations() {
    fuse_lowlevel_ops ops{};
    using K = RequestKind;
    ops.lookup = counted<op::lookup, K::lookup>;
    ops.forget = entry<op::forget>;
    ops.forget_multi = entry<op::forget_multi>;
    ops.getattr = counted<op::getattr, K::getattr>;
    ops.setattr = counted<op::setattr, K::setattr>;
    ops.opendir = counted<op::opendir, K::opendir>;
    ops.readdir = counted<op::readdir, K::readdir>;
    ops.releasedir = counted<op::releasedir, K::releasedir>;
    ops.readlink = counted<op::readlink, K::readlink>;
    ops.open = counted<op::open, K::open>;
    ops.read = counted<op::read, K::read>;
    ops.write = counted<op::write, K::write>;
    ops.flush = counted<op::flush, K::flush>;
    ops.release = counted<op::release, K::release>;
    ops.poll = counted<op::poll, K::poll>;
    return ops;
}

}  // namespace

const fuse_lowlevel_ops& operations() {
    static const fuse_lowlevel_ops ops = make_operations();
    return ops;
}

}  // namespace ecifs::fs
