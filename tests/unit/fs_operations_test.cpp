// The FUSE operations (fs/operations.hpp) without a mount: a RecordingKernel takes
// their replies and store notifications, and a small table of files and one subtree
// stand for the handlers. What the kernel then does with a reply is exercised by
// tests/integration (test_reading.py, test_reading_mixes.py).
#include "fs/operations.hpp"

#include <fcntl.h>
#include <linux/fuse.h>
#include <unistd.h>

#include <cstdint>
#include <functional>
#include <utility>
#include <map>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include "fixture_trees.hpp"
#include "fs/open_file.hpp"

namespace ecifs::fs {
namespace {

// What a static file renders next: generators are plain functions, so a global.
struct Rendering {
    std::string text;
    int error = 0;
    int count = 0;  // renderings so far
};
Rendering rendering;

int show_text(const handlers::Context&, std::string& out) {
    ++rendering.count;
    if (rendering.error) return rendering.error;
    out = rendering.text;
    return 0;
}

std::string written;  // by write_value
int write_value(const handlers::Context&, std::string_view data) {
    if (data == "bad\n") return EINVAL;
    written = data;
    return 0;
}

constexpr handlers::FileEntry files[] = {
    {"proc/text", 0444, nullptr, show_text},
    {"proc/value", 0644, nullptr, show_text, write_value, handlers::Owner::container_root},
};

// A subtree of one file and one symlink: "file" (0644) and "link".
class FakeSubtree : public handlers::Subtree {
public:
    int stat(const handlers::Context&, std::string_view path, handlers::NodeInfo& out) const override {
        if (path.empty()) out = {.is_dir = true, .mode = 0555};
        else if (path == "file") out = {.mode = 0644};
        else if (path == "link") out = {.is_symlink = true, .mode = 0777};
        else return ENOENT;
        return 0;
    }
    int list(const handlers::Context& ctx, std::string_view dir,
             std::vector<std::pair<std::string, handlers::NodeInfo>>& out) const override {
        for (const char* name : {"file", "link"}) {
            handlers::NodeInfo info;
            stat(ctx, name, info);
            out.emplace_back(name, info);
        }
        return dir.empty() ? 0 : ENOTDIR;
    }
    int read(const handlers::Context& ctx, std::string_view, std::string& out) const override {
        return show_text(ctx, out);
    }
    int write(const handlers::Context&, std::string_view path, std::string_view data) const override {
        writes.emplace_back(path, data);
        return 0;
    }
    int readlink(const handlers::Context&, std::string_view path, std::string& out) const override {
        if (path != "link") return EINVAL;
        out = "../target";
        return 0;
    }
    mutable std::vector<std::pair<std::string, std::string>> writes;
};
FakeSubtree subtree;
const handlers::SubtreeEntry subtrees[] = {{"sys/tree", &subtree}};

// One reply, as the operations gave it.
struct Reply {
    enum Kind { err, none, entry, attr, open, buf, write, poll, readlink } kind;
    fuse_req_t req = nullptr;
    int error = 0;
    fuse_entry_param entry_param{};
    struct stat st {};
    double timeout = 0;
    fuse_file_info fi{};
    std::string data{};  // buf, readlink
    size_t count = 0;
    unsigned revents = 0;
};

struct Store {
    fuse_ino_t ino;
    off_t offset;
    std::string data;
};

class RecordingKernel : public Kernel {
public:
    std::vector<Reply> replies;
    std::vector<Store> stores;
    int open_result = 0;  // what reply_open returns: -ENOENT for an interrupted open
    // What the kernel does once a reply is out (the reader closes: a RELEASE).
    std::function<void(const Reply&)> after_reply;

    int reply_err(fuse_req_t req, int error) override { return add({.kind = Reply::err, .req = req, .error = error}); }
    void reply_none(fuse_req_t req) override { add({.kind = Reply::none, .req = req}); }
    int reply_entry(fuse_req_t req, const fuse_entry_param& e) override {
        return add({.kind = Reply::entry, .req = req, .entry_param = e});
    }
    int reply_attr(fuse_req_t req, const struct stat& st, double timeout) override {
        return add({.kind = Reply::attr, .req = req, .st = st, .timeout = timeout});
    }
    int reply_open(fuse_req_t req, const fuse_file_info& fi) override {
        add({.kind = Reply::open, .req = req, .fi = fi});
        return open_result;
    }
    int reply_buf(fuse_req_t req, const char* data, size_t size) override {
        return add({.kind = Reply::buf, .req = req, .data = std::string(data, size)});
    }
    int reply_write(fuse_req_t req, size_t count) override {
        return add({.kind = Reply::write, .req = req, .count = count});
    }
    int reply_poll(fuse_req_t req, unsigned revents) override {
        return add({.kind = Reply::poll, .req = req, .revents = revents});
    }
    int reply_readlink(fuse_req_t req, const char* link) override {
        return add({.kind = Reply::readlink, .req = req, .data = link});
    }
    int notify_store(fuse_ino_t ino, off_t offset, std::string_view data) override {
        stores.push_back({ino, offset, std::string(data)});
        return 0;
    }

private:
    int add(Reply reply) {
        replies.push_back(std::move(reply));
        if (after_reply) std::exchange(after_reply, nullptr)(replies.back());
        return 0;
    }
};

// The empty store past any end that bumps an inode's attribute version.
constexpr off_t bump_offset = off_t{1} << 40;

// A read(2) carries a lock owner; a READ that fills the page cache does not.
constexpr uint64_t read_syscall = 1;
constexpr uint64_t page_cache = 0;

class FsOperations : public ::testing::Test {
protected:
    explicit FsOperations(bool splice_reads_cache = true)
        : container(std::make_shared<emulation::Container>("c1", 100000, 100000, test_fixtures::fixture_host)),
          table(files, subtrees),
          state(container, table, io, splice_reads_cache) {
        auto recording = std::make_unique<RecordingKernel>();
        kernel = recording.get();
        state.kernel = std::move(recording);
        state.run_blocking = [this](std::function<void()> job) { blocked.push_back(std::move(job)); };
        rendering = {.text = "first\n"};
        written.clear();
        subtree.writes.clear();
    }
    ~FsOperations() override {
        for (auto [fh, ino] : open_handles) {
            fuse_file_info fi{};
            fi.fh = fh;
            op::release(request(), ino, &fi);
        }
    }

    // A new request. Its handle is only compared, never followed.
    Request request() { return {reinterpret_cast<fuse_req_t>(++requests), state, ::getpid()}; }

    const Reply& last() const { return kernel->replies.back(); }

    // The inode of `path`, looked up from the root.
    fuse_ino_t lookup(std::string_view path) {
        fuse_ino_t ino = FUSE_ROOT_ID;
        while (!path.empty()) {
            auto slash = path.find('/');
            std::string name(path.substr(0, slash));
            path = slash == std::string_view::npos ? "" : path.substr(slash + 1);
            op::lookup(request(), ino, name.c_str());
            EXPECT_EQ(last().kind, Reply::entry) << name;
            ino = last().entry_param.ino;
        }
        return ino;
    }

    // An open, answered (after its store, if it makes one); the handle is released at
    // the end.
    fuse_file_info open(fuse_ino_t ino, int flags = O_RDONLY) {
        fuse_file_info fi{};
        fi.flags = flags;
        op::open(request(), ino, &fi);
        run_blocked();
        EXPECT_EQ(last().kind, Reply::open);
        open_handles[last().fi.fh] = ino;
        return last().fi;
    }

    // A READ: its data, or "errno N".
    std::string read(fuse_ino_t ino, fuse_file_info fi, uint64_t lock_owner, off_t offset = 0, size_t size = 4096) {
        fi.lock_owner = lock_owner;
        op::read(request(), ino, size, offset, &fi);
        if (last().kind == Reply::err) return "errno " + std::to_string(last().error);
        EXPECT_EQ(last().kind, Reply::buf);
        return last().data;
    }

    void release(fuse_ino_t ino, fuse_file_info fi) {
        open_handles.erase(fi.fh);
        op::release(request(), ino, &fi);
        EXPECT_EQ(last().kind, Reply::err);
        EXPECT_EQ(last().error, 0);
    }

    // Runs the work given to the blocking thread.
    void run_blocked() {
        auto jobs = std::move(blocked);
        blocked.clear();
        for (auto& job : jobs) job();
    }

    boost::asio::io_context io;
    std::shared_ptr<const emulation::Container> container;
    NodeTable table;
    MountState state;
    RecordingKernel* kernel = nullptr;
    std::vector<std::function<void()>> blocked;
    std::uintptr_t requests = 0;
    std::map<uint64_t, fuse_ino_t> open_handles;  // fh -> ino
};

// Before Linux 6.5 splice reads like read(2): nothing to store, no stale attributes.
class FsOperationsUnmanaged : public FsOperations {
protected:
    FsOperationsUnmanaged() : FsOperations(false) {}
};

TEST_F(FsOperations, LookupFindsTheStaticTreeAndCachesItLong) {
    const fuse_ino_t proc = lookup("proc");
    op::lookup(request(), proc, "text");
    ASSERT_EQ(last().kind, Reply::entry);
    EXPECT_TRUE(S_ISREG(last().entry_param.attr.st_mode));
    EXPECT_EQ(last().entry_param.attr.st_mode & 07777, 0444u);
    EXPECT_EQ(last().entry_param.attr.st_size, 0);
    EXPECT_EQ(last().entry_param.entry_timeout, 3600.0);
    const fuse_ino_t text = last().entry_param.ino;

    op::lookup(request(), proc, "missing");
    EXPECT_EQ(last().kind, Reply::err);
    EXPECT_EQ(last().error, ENOENT);
    op::lookup(request(), text, "below");
    EXPECT_EQ(last().error, ENOTDIR);
    op::lookup(request(), 999, "x");
    EXPECT_EQ(last().error, ENOENT);
}

TEST_F(FsOperations, LookupBelowASubtreeGivesAPathOneInodeCachedBriefly) {
    const fuse_ino_t tree = lookup("sys/tree");
    op::lookup(request(), tree, "file");
    ASSERT_EQ(last().kind, Reply::entry);
    const fuse_ino_t file = last().entry_param.ino;
    EXPECT_GT(file, table.size());
    EXPECT_EQ(last().entry_param.attr_timeout, 1.0);
    EXPECT_EQ(last().entry_param.attr.st_mode, S_IFREG | 0644u);
    op::lookup(request(), tree, "file");
    EXPECT_EQ(last().entry_param.ino, file);
    op::lookup(request(), tree, "gone");
    EXPECT_EQ(last().kind, Reply::err);
    EXPECT_EQ(last().error, ENOENT);
}

TEST_F(FsOperations, GetattrShowsSizeZeroAndWhoseTheFileIs) {
    op::getattr(request(), lookup("proc/value"), nullptr);
    ASSERT_EQ(last().kind, Reply::attr);
    EXPECT_EQ(last().st.st_size, 0);
    EXPECT_EQ(last().st.st_uid, 100000u);  // the container's root
    EXPECT_EQ(last().timeout, 3600.0);
    op::getattr(request(), lookup("proc/text"), nullptr);
    EXPECT_EQ(last().st.st_uid, 0u);  // the kernel's
    op::getattr(request(), FUSE_ROOT_ID, nullptr);
    EXPECT_EQ(last().st.st_mode, S_IFDIR | 0555u);
    EXPECT_EQ(last().st.st_nlink, 4u);  // ".", "..", proc, sys
    op::getattr(request(), 999, nullptr);
    EXPECT_EQ(last().kind, Reply::err);
    EXPECT_EQ(last().error, ENOENT);
}

TEST_F(FsOperations, SetattrAcceptsTruncationOnly) {
    const fuse_ino_t value = lookup("proc/value");
    op::setattr(request(), value, nullptr, FUSE_SET_ATTR_SIZE, nullptr);
    EXPECT_EQ(last().kind, Reply::attr);
    op::setattr(request(), value, nullptr, FUSE_SET_ATTR_MODE, nullptr);
    EXPECT_EQ(last().kind, Reply::err);
    EXPECT_EQ(last().error, EPERM);
}

TEST_F(FsOperations, OpenRendersOnceAndItsReadsServeThatSnapshot) {
    const fuse_ino_t text = lookup("proc/text");
    auto fi = open(text);
    EXPECT_EQ(rendering.count, 1);
    EXPECT_TRUE(fi.direct_io);  // read(2) must reach us: st_size is 0
    EXPECT_TRUE(fi.noflush);
    rendering.text = "second\n";
    EXPECT_EQ(read(text, fi, read_syscall, 0, 3), "fir");
    EXPECT_EQ(read(text, fi, read_syscall, 3, 3), "st\n");
    EXPECT_EQ(read(text, fi, read_syscall, 6), "");
    EXPECT_EQ(rendering.count, 1);
}

TEST_F(FsOperations, AReadAtOffsetZeroAfterAServedPassRendersAgain) {
    const fuse_ino_t text = lookup("proc/text");
    auto fi = open(text);
    rendering.text = "second\n";
    EXPECT_EQ(read(text, fi, read_syscall), "first\n");  // the open's rendering, not served yet
    EXPECT_EQ(read(text, fi, read_syscall, 6), "");
    EXPECT_EQ(rendering.count, 1);
    EXPECT_EQ(read(text, fi, read_syscall), "second\n");  // lseek(0): top, vmstat, free -s
    EXPECT_EQ(rendering.count, 2);
}

TEST_F(FsOperations, PageCacheReadsAreServedFromTheSharedSnapshot) {
    const fuse_ino_t text = lookup("proc/text");
    auto first = open(text);
    rendering.text = "second, longer\n";
    // The first handle may still splice: the second reads what it reads.
    auto second = open(text);
    EXPECT_EQ(read(text, second, page_cache), "first\n");
    EXPECT_EQ(read(text, second, read_syscall), "second, longer\n");  // its own snapshot
    EXPECT_EQ(read(text, first, page_cache), "first\n");
    // A page-cache READ at offset 0 renders nothing again.
    EXPECT_EQ(read(text, first, page_cache), "first\n");
    EXPECT_EQ(rendering.count, 2);
}

TEST_F(FsOperations, AnOpenStoresItsSnapshotsLastByteToExtendTheSize) {
    const fuse_ino_t text = lookup("proc/text");
    fuse_file_info fi{};
    const Request opening = request();
    op::open(opening, text, &fi);
    // Not answered yet: the store waits for page locks, off the pool threads.
    EXPECT_NE(kernel->replies.back().kind, Reply::open);
    ASSERT_EQ(blocked.size(), 1u);
    EXPECT_TRUE(kernel->stores.empty());
    run_blocked();
    ASSERT_EQ(kernel->stores.size(), 2u);
    EXPECT_EQ(kernel->stores[0].offset, bump_offset);  // first the attribute version
    EXPECT_EQ(kernel->stores[0].data, "");
    EXPECT_EQ(kernel->stores[1].ino, text);
    EXPECT_EQ(kernel->stores[1].offset, 5);
    EXPECT_EQ(kernel->stores[1].data, "\n");
    ASSERT_EQ(last().kind, Reply::open);
    EXPECT_EQ(last().req, opening.id);
    open_handles[last().fi.fh] = text;
    EXPECT_EQ(read(text, last().fi, page_cache), "first\n");

    // i_size covers an open of the same length: nothing more to store.
    rendering.text = "third\n";
    open(text);
    EXPECT_EQ(kernel->stores.size(), 2u);
}

TEST_F(FsOperations, AttributesGoOutStaleWhileAnOpenHandleNeedsTheSize) {
    const fuse_ino_t text = lookup("proc/text");
    auto fi = open(text);
    const size_t stores = kernel->stores.size();
    op::getattr(request(), text, nullptr);
    ASSERT_EQ(kernel->stores.size(), stores + 1);
    EXPECT_EQ(kernel->stores.back().offset, bump_offset);
    EXPECT_EQ(last().kind, Reply::attr);
    release(text, fi);
    op::getattr(request(), text, nullptr);
    EXPECT_EQ(kernel->stores.size(), stores + 1);  // no handle: i_size may become 0
}

TEST_F(FsOperations, AShortPageCacheReadLetsTheNextOpenExtendAgain) {
    const fuse_ino_t text = lookup("proc/text");
    rendering.text = "1234567\n";
    release(text, open(text));  // i_size is 8 now
    rendering.text = "12345\n";
    auto shorter = open(text);
    const size_t stores = kernel->stores.size();
    // Shorter than i_size: the kernel cuts i_size where the page-cache READ ends short.
    EXPECT_EQ(read(text, shorter, page_cache, 0, 4096), "12345\n");
    release(text, shorter);
    rendering.text = "1234567\n";
    open(text);
    ASSERT_EQ(kernel->stores.size(), stores + 2);
    EXPECT_EQ(kernel->stores.back().offset, 7);
}

TEST_F(FsOperationsUnmanaged, NothingIsStoredBeforeLinux65) {
    const fuse_ino_t text = lookup("proc/text");
    auto fi = open(text);
    op::getattr(request(), text, nullptr);
    EXPECT_TRUE(kernel->stores.empty());
    EXPECT_EQ(read(text, fi, page_cache), "first\n");
}

TEST_F(FsOperations, ARenderingErrorFailsTheReadNotTheOpen) {
    const fuse_ino_t text = lookup("proc/text");
    rendering.error = EIO;
    auto fi = open(text);
    EXPECT_TRUE(kernel->stores.empty());  // nothing to store
    EXPECT_EQ(read(text, fi, read_syscall), "errno 5");
    EXPECT_EQ(read(text, fi, page_cache), "errno 5");
    rendering.error = 0;
    EXPECT_EQ(read(text, fi, read_syscall), "first\n");  // a new pass renders again
}

// Once a READ's reply is out, the reader may close at once and the RELEASE, on another
// pool thread, deletes the handle: the READ must not touch it after replying (its
// lock included: it must be free when the reply goes out). A container that made
// 20,000 failing reads crashed the daemon that way (tests/hostile/test_log_flood.py).
TEST_F(FsOperations, AReadTouchesNothingOfItsHandleAfterReplying) {
    const fuse_ino_t text = lookup("proc/text");
    for (int error : {EIO, 0}) {
        for (uint64_t owner : {read_syscall, page_cache}) {
            rendering.error = error;
            auto fi = open(text);
            open_handles.erase(fi.fh);
            kernel->after_reply = [&, fi](const Reply&) mutable {
                auto file = state.files.find(fi.fh);
                ASSERT_TRUE(file);
                const bool lock_free = file->lock.try_lock();
                EXPECT_TRUE(lock_free) << "replied under the handle's lock (error " << error << ", owner " << owner << ")";
                if (lock_free) file->lock.unlock();
                else return;  // releasing now would free a held lock
                op::release(request(), text, &fi);
            };
            fi.lock_owner = owner;
            op::read(request(), text, 4096, 0, &fi);
            EXPECT_EQ(kernel->replies.end()[-2].kind, error ? Reply::err : Reply::buf);
            EXPECT_EQ(last().kind, Reply::err);  // the RELEASE's
        }
    }
}

TEST_F(FsOperations, AWriteOnlyOpenRendersNothing) {
    const fuse_ino_t value = lookup("proc/value");
    auto fi = open(value, O_WRONLY | O_TRUNC);
    EXPECT_EQ(rendering.count, 0);
    EXPECT_TRUE(kernel->stores.empty());
    release(value, fi);
    open(value, O_RDWR);
    EXPECT_EQ(rendering.count, 1);
}

TEST_F(FsOperations, OpensTheFileCannotTakeAreRefused) {
    fuse_file_info fi{};
    fi.flags = O_WRONLY;
    op::open(request(), lookup("proc/text"), &fi);
    EXPECT_EQ(last().kind, Reply::err);
    EXPECT_EQ(last().error, EACCES);
    fi.flags = O_RDONLY;
    op::open(request(), lookup("proc"), &fi);
    EXPECT_EQ(last().error, EISDIR);
    op::open(request(), 999, &fi);
    EXPECT_EQ(last().error, ENOENT);
    EXPECT_EQ(rendering.count, 0);
}

TEST_F(FsOperations, AWriteIsOneWholeValue) {
    const fuse_ino_t value = lookup("proc/value");
    auto fi = open(value, O_WRONLY);
    const std::string one = "1\n";
    op::write(request(), value, one.data(), one.size(), 0, &fi);
    EXPECT_EQ(last().kind, Reply::write);
    EXPECT_EQ(last().count, 2u);
    EXPECT_EQ(written, "1\n");
    const std::string later = "2\n";
    op::write(request(), value, later.data(), later.size(), 2, &fi);  // accepted, ignored
    EXPECT_EQ(last().count, 2u);
    EXPECT_EQ(written, "1\n");
    const std::string bad = "bad\n";
    op::write(request(), value, bad.data(), bad.size(), 0, &fi);
    EXPECT_EQ(last().kind, Reply::err);
    EXPECT_EQ(last().error, EINVAL);
}

TEST_F(FsOperations, AWriteBelowASubtreeGoesToItsHandle) {
    const fuse_ino_t file = lookup("sys/tree/file");
    auto fi = open(file, O_WRONLY);
    EXPECT_EQ(rendering.count, 0);  // write-only: the subtree reads nothing either
    const std::string one = "1\n";
    op::write(request(), file, one.data(), one.size(), 0, &fi);
    EXPECT_EQ(last().kind, Reply::write);
    ASSERT_EQ(subtree.writes.size(), 1u);
    EXPECT_EQ(subtree.writes[0], std::make_pair(std::string("file"), one));
}

TEST_F(FsOperations, ReleaseLetsTheNextOpenSetTheSharedSnapshot) {
    const fuse_ino_t text = lookup("proc/text");
    auto first = open(text);
    release(text, first);
    rendering.text = "second\n";
    auto second = open(text);
    EXPECT_EQ(read(text, second, page_cache), "second\n");
}

TEST_F(FsOperations, AHandleThatReadsWithRead2LeavesTheSnapshotToNewOpens) {
    const fuse_ino_t text = lookup("proc/text");
    auto first = open(text);
    EXPECT_EQ(read(text, first, read_syscall), "first\n");
    rendering.text = "second\n";
    auto second = open(text);
    EXPECT_EQ(read(text, second, page_cache), "second\n");
}

TEST_F(FsOperations, AnOpenTheKernelDidNotTakeIsReleased) {
    const fuse_ino_t text = lookup("proc/text");
    kernel->open_result = -ENOENT;  // the opener was interrupted: no RELEASE will come
    fuse_file_info fi{};
    op::open(request(), text, &fi);
    run_blocked();
    EXPECT_EQ(last().kind, Reply::open);
    kernel->open_result = 0;
    rendering.text = "second\n";
    auto second = open(text);
    EXPECT_EQ(read(text, second, page_cache), "second\n");
}

TEST_F(FsOperations, ReaddirListsTheDotsAndTheChildren) {
    const fuse_ino_t tree = lookup("sys/tree");
    fuse_file_info fi{};
    op::opendir(request(), tree, &fi);
    ASSERT_EQ(last().kind, Reply::open);
    fi = last().fi;
    op::readdir(request(), tree, 4096, 0, &fi);
    ASSERT_EQ(last().kind, Reply::buf);
    std::vector<std::string> names;
    const std::string& buf = last().data;
    for (size_t at = 0; at < buf.size();) {
        const auto* dirent = reinterpret_cast<const fuse_dirent*>(buf.data() + at);
        names.emplace_back(dirent->name, dirent->namelen);
        at += FUSE_DIRENT_SIZE(dirent);
    }
    EXPECT_EQ(names, (std::vector<std::string>{".", "..", "file", "link"}));
    op::releasedir(request(), tree, &fi);
    EXPECT_EQ(last().error, 0);
}

TEST_F(FsOperations, ReadlinkAsksTheSubtree) {
    op::readlink(request(), lookup("sys/tree/link"));
    ASSERT_EQ(last().kind, Reply::readlink);
    EXPECT_EQ(last().data, "../target");
    op::readlink(request(), lookup("proc/text"));
    EXPECT_EQ(last().kind, Reply::err);
    EXPECT_EQ(last().error, EINVAL);
}

TEST_F(FsOperations, ForgetAnswersNothing) {
    op::forget(request(), lookup("proc/text"), 1);
    EXPECT_EQ(last().kind, Reply::none);
}

// A daemon restarted under a live mount (docs/restart.md) gets READs and RELEASEs of
// handles an earlier daemon gave: a READ renders the file afresh, a RELEASE is done.
TEST_F(FsOperations, AHandleAnEarlierDaemonGaveIsServed) {
    const fuse_ino_t text = lookup("proc/text");
    fuse_file_info fi{};
    fi.fh = 12345;  // below any number this mount's table gives
    fi.lock_owner = read_syscall;
    op::read(request(), text, 4096, 0, &fi);
    ASSERT_EQ(last().kind, Reply::buf);
    EXPECT_FALSE(last().data.empty());
    op::release(request(), text, &fi);
    EXPECT_EQ(last().kind, Reply::err);
    EXPECT_EQ(last().error, 0);
    EXPECT_EQ(state.files.size(), 0u);
}

}  // namespace
}  // namespace ecifs::fs
