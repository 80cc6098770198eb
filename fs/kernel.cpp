#include "fs/kernel.hpp"

namespace ecifs::fs {

namespace {

class LibfuseKernel final : public Kernel {
public:
    explicit LibfuseKernel(fuse_session* session) : session_(session) {}

    int reply_err(fuse_req_t req, int err) override { return fuse_reply_err(req, err); }
    void reply_none(fuse_req_t req) override { fuse_reply_none(req); }
    int reply_entry(fuse_req_t req, const fuse_entry_param& entry) override { return fuse_reply_entry(req, &entry); }
    int reply_attr(fuse_req_t req, const struct stat& st, double timeout) override {
        return fuse_reply_attr(req, &st, timeout);
    }
    int reply_open(fuse_req_t req, const fuse_file_info& fi) override { return fuse_reply_open(req, &fi); }
    int reply_buf(fuse_req_t req, const char* data, size_t size) override { return fuse_reply_buf(req, data, size); }
    int reply_write(fuse_req_t req, size_t count) override { return fuse_reply_write(req, count); }
    int reply_poll(fuse_req_t req, unsigned revents) override { return fuse_reply_poll(req, revents); }
    int reply_readlink(fuse_req_t req, const char* link) override { return fuse_reply_readlink(req, link); }

    int notify_store(fuse_ino_t ino, off_t offset, std::string_view data) override {
        fuse_bufvec buf = FUSE_BUFVEC_INIT(data.size());
        buf.buf[0].mem = const_cast<char*>(data.data());
        return fuse_lowlevel_notify_store(session_, ino, offset, &buf, fuse_buf_copy_flags{});
    }

private:
    fuse_session* const session_;
};

}  // namespace

std::unique_ptr<Kernel> libfuse_kernel(fuse_session* session) { return std::make_unique<LibfuseKernel>(session); }

}  // namespace ecifs::fs
