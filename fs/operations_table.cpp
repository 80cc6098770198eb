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

fuse_lowlevel_ops make_operations() {
    fuse_lowlevel_ops ops{};
    ops.lookup = entry<op::lookup>;
    ops.forget = entry<op::forget>;
    ops.forget_multi = entry<op::forget_multi>;
    ops.getattr = entry<op::getattr>;
    ops.setattr = entry<op::setattr>;
    ops.opendir = entry<op::opendir>;
    ops.readdir = entry<op::readdir>;
    ops.releasedir = entry<op::releasedir>;
    ops.readlink = entry<op::readlink>;
    ops.open = entry<op::open>;
    ops.read = entry<op::read>;
    ops.write = entry<op::write>;
    ops.flush = entry<op::flush>;
    ops.release = entry<op::release>;
    ops.poll = entry<op::poll>;
    return ops;
}

}  // namespace

const fuse_lowlevel_ops& operations() {
    static const fuse_lowlevel_ops ops = make_operations();
    return ops;
}

}  // namespace ecifs::fs
