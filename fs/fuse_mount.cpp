#include "fs/fuse_mount.hpp"

#include <fcntl.h>
#include <linux/fuse.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <fmt/core.h>
#include <spdlog/spdlog.h>

namespace ecifs::fs {

namespace {

// nosuid,nodev,noexec: nothing in a view is executable or a device. Inside a user
// namespace these flags are locked, so whoever bind-mounts a view must repeat them.
// allow_other: the container's processes are not the mounting user.
// default_permissions: the kernel checks the modes and owners we report.
constexpr const char* mount_options = "allow_other,default_permissions,nosuid,nodev,noexec,fsname=ecifs,subtype=ecifs";

// The buffer a pool thread receives requests into, reused across requests and mounts
// (every session has the same buffer size).
struct ReceiveBuffer {
    fuse_buf buf{};
    ~ReceiveBuffer() { std::free(buf.mem); }
};

// One thread for work that may block in the kernel (see MountState::run_blocking).
boost::asio::thread_pool& blocking_pool() {
    static boost::asio::thread_pool pool(1);
    return pool;
}

// 0 or a negative errno from fuse_session_receive_buf: 0 or -ENODEV means the
// filesystem was unmounted behind our back; anything else is worth a log line.
void report_receive_end(const std::filesystem::path& mountpoint, int res) {
    if (res < 0 && res != -ENODEV)
        spdlog::error("{}: receiving a FUSE request: {}", mountpoint.string(), std::strerror(-res));
}

// Containers served (one mount each), for the share of the FUSE threads one may hold.
std::atomic<unsigned> live_mounts{0};

fuse_session* new_session(MountState* state) {
    std::vector<std::string> words = {"ecifs", "-o", mount_options};
    std::vector<char*> argv;
    for (auto& w : words) argv.push_back(w.data());
    fuse_args args = FUSE_ARGS_INIT(static_cast<int>(argv.size()), argv.data());
    fuse_session* session = fuse_session_new(&args, &operations(), sizeof(fuse_lowlevel_ops), state);
    fuse_opt_free_args(&args);
    if (!session) throw std::runtime_error("fuse_session_new failed");
    return session;
}

}  // namespace

FuseMount::FuseMount(boost::asio::io_context& io, unsigned pool_threads, std::filesystem::path mountpoint,
                     std::shared_ptr<const emulation::Container> container)
    : mountpoint_(std::move(mountpoint)),
      state_(std::move(container), NodeTable::instance(), io),
      loop_(FuseLoop::shared(std::max(1u, pool_threads))),
      pool_threads_(loop_.threads()) {
    live_mounts.fetch_add(1);
}

void FuseMount::set_up_session() {
    session_ = new_session(&state_);
    state_.kernel = libfuse_kernel(session_);
    state_.run_blocking = [weak = weak_from_this()](std::function<void()> job) {
        boost::asio::post(blocking_pool(), [weak, job = std::move(job)] {
            auto self = weak.lock();
            if (!self) return;
            std::shared_lock lock(self->io_mutex_);
            if (!self->closed_) job();  // once closed, the kernel has aborted the request
        });
    };
}

// The kernel queues INIT when it mounts: take it now, while the fd still blocks, and
// keep its bytes for a daemon that adopts the mount after a restart.
void FuseMount::receive_init() {
    fuse_buf buf{};
    const int res = fuse_session_receive_buf(session_, &buf);
    if (res >= static_cast<int>(sizeof(fuse_in_header)) &&
        static_cast<const fuse_in_header*>(buf.mem)->opcode == FUSE_INIT)
        init_request_.assign(static_cast<const char*>(buf.mem), static_cast<size_t>(res));
    if (res > 0) fuse_session_process_buf(session_, &buf);
    std::free(buf.mem);
    if (init_request_.empty()) throw std::runtime_error(fmt::format("{}: no FUSE INIT", mountpoint_.string()));
}

// Non-blocking: a thread that finds the request taken by another goes back to the loop.
void FuseMount::serve_fd(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

std::shared_ptr<FuseMount> FuseMount::create(boost::asio::io_context& io, unsigned pool_threads,
                                             std::filesystem::path mountpoint,
                                             std::shared_ptr<const emulation::Container> container,
                                             const std::filesystem::path& journal) {
    // The mountpoint must be reachable by the container's root to be bind-mounted.
    if (::mkdir(mountpoint.c_str(), 0755) != 0 && errno != EEXIST)
        throw std::runtime_error(fmt::format("mkdir {}: {}", mountpoint.string(), std::strerror(errno)));
    std::shared_ptr<FuseMount> mount(new FuseMount(io, pool_threads, mountpoint, std::move(container)));
    mount->set_up_session();
    if (!journal.empty()) mount->state_.dynamic.keep_journal(journal, NodeTable::instance());
    if (fuse_session_mount(mount->session_, mountpoint.c_str()) != 0) {
        ::rmdir(mountpoint.c_str());
        throw std::runtime_error(fmt::format("cannot mount FUSE at {}", mountpoint.string()));
    }
    try {
        mount->receive_init();
    } catch (...) {
        mount->stop();
        throw;
    }
    mount->serve_fd(fuse_session_fd(mount->session_));
    return mount;
}

namespace {

// The adopted session's /dev/fuse traffic (libfuse's custom io): plain read and writev,
// but for the reply to the INIT it is fed at adoption, which is dropped.
thread_local bool dropping_replies = false;

ssize_t read_device(int fd, void* buf, size_t size, void*) { return ::read(fd, buf, size); }

ssize_t write_device(int fd, iovec* iov, int count, void*) {
    if (!dropping_replies) return ::writev(fd, iov, count);
    ssize_t total = 0;
    for (int i = 0; i < count; ++i) total += static_cast<ssize_t>(iov[i].iov_len);
    return total;
}

// FUSE_NOTIFY_RESEND (Linux 6.9; not in this libfuse's or the build host's headers).
constexpr int32_t notify_resend = 7;

}  // namespace

std::shared_ptr<FuseMount> FuseMount::adopt(boost::asio::io_context& io, unsigned pool_threads,
                                            std::filesystem::path mountpoint,
                                            std::shared_ptr<const emulation::Container> container,
                                            sys::Fd connection, const std::string& init_request,
                                            const std::filesystem::path& journal) {
    if (init_request.size() < sizeof(fuse_in_header))
        throw std::runtime_error(fmt::format("{}: no INIT to replay", mountpoint.string()));
    std::shared_ptr<FuseMount> mount(new FuseMount(io, pool_threads, mountpoint, std::move(container)));
    mount->adopted_ = true;
    mount->init_request_ = init_request;
    mount->set_up_session();
    mount->state_.dynamic.keep_journal(journal, NodeTable::instance());
    static const fuse_custom_io device_io{.writev = write_device, .read = read_device,
                                          .splice_receive = nullptr, .splice_send = nullptr};
    const int fd = connection.get();
    if (fuse_session_custom_io(mount->session_, &device_io, fd) != 0)
        throw std::runtime_error(fmt::format("{}: cannot adopt its FUSE connection", mountpoint.string()));
    connection.release();  // the session closes it
    std::string init = init_request;
    fuse_buf buf{};
    buf.mem = init.data();
    buf.size = init.size();
    dropping_replies = true;
    fuse_session_process_buf(mount->session_, &buf);
    dropping_replies = false;
    const fuse_out_header resend{.len = sizeof(fuse_out_header), .error = notify_resend, .unique = 0};
    if (::write(fd, &resend, sizeof resend) < 0)
        spdlog::warn("{}: the kernel did not resend the requests in flight: {}", mountpoint.string(), std::strerror(errno));
    mount->serve_fd(fd);
    return mount;
}

int FuseMount::clone_tree() const {
    // The path walk ends on the mount's root, which the kernel already holds: no FUSE
    // request, so this cannot wait for our own loop.
    return ::open_tree(AT_FDCWD, mountpoint_.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
}

FuseMount::~FuseMount() {
    stop();
    if (session_) fuse_session_destroy(session_);
    live_mounts.fetch_sub(1);
}

void FuseMount::start() {
    std::unique_lock lock(io_mutex_);
    if (closed_ || loop_key_ != 0) return;
    loop_key_ = loop_.add(fd(), [weak = weak_from_this()] {
        if (auto self = weak.lock()) self->on_readable();
    });
}

// Called with io_mutex_ held exclusively, so no request is being processed: none is
// received from here on. The session keeps the fd (libfuse closes it at unmount or at
// destruction). False if it was done already.
bool FuseMount::stop_serving() {
    if (closed_) return false;
    closed_ = true;
    if (loop_key_ != 0) loop_.remove(std::exchange(loop_key_, 0), fd());
    state_.events.stop();  // no poll notification may reach the session from now on
    return true;
}

void FuseMount::stop() {
    std::unique_lock lock(io_mutex_);
    if (!stop_serving()) return;
    if (adopted_) ::umount2(mountpoint_.c_str(), MNT_DETACH);  // libfuse did not mount it
    else if (session_) fuse_session_unmount(session_);
    if (::rmdir(mountpoint_.c_str()) != 0 && errno != ENOENT)
        spdlog::warn("cannot remove {}: {}", mountpoint_.string(), std::strerror(errno));
}

// The holder's copy of the fd keeps the connection, and the mount stays.
void FuseMount::leave() {
    std::unique_lock lock(io_mutex_);
    stop_serving();
}

// Called with io_mutex_ held (shared): the fd's next event may come.
void FuseMount::arm() {
    if (!closed_ && loop_key_ != 0) loop_.rearm(loop_key_, fd());
}

// A FUSE thread saw the fd readable (its one-shot event is spent until arm()).
void FuseMount::on_readable() {
    thread_local ReceiveBuffer receive;
    std::shared_lock lock(io_mutex_);
    if (closed_) return;
    const int res = fuse_session_receive_buf(session_, &receive.buf);
    if (res == -EAGAIN || res == -EINTR) return arm();
    if (res <= 0) return report_receive_end(mountpoint_, res);  // unmounted: not re-armed
    process_one(receive.buf);
}

// One container never holds every FUSE thread while there are others: a request that
// blocks (an executor's exchange, a walk of a large cgroup) or a flood of its readers
// then queues behind its own requests, and another container's request finds a free
// thread. Alone, a container may use them all.
unsigned FuseMount::max_busy_threads() const {
    return live_mounts.load() > 1 ? std::max(1u, pool_threads_ - 1) : pool_threads_;
}

// Below its share, another FUSE thread may take this mount's next request while this
// one works (the fd is re-armed first); at its share, the next request waits until
// this one is done.
void FuseMount::process_one(fuse_buf& request) {
    const bool share = busy_threads_.fetch_add(1) + 1 < max_busy_threads();
    if (share) arm();
    fuse_session_process_buf(session_, &request);
    busy_threads_.fetch_sub(1);
    if (!share) arm();
}

}  // namespace ecifs::fs
