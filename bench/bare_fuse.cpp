// bare_fuse: the floor for any FUSE design on this machine. A libfuse low-level server
// that answers fixed strings (each file's content is a snapshot, taken at start, of a
// real file), with the same reply policy as ecifs (direct_io, noflush, size 0, names
// and attributes cached for an hour), served by one of two request loops:
//
//   --loop stock   libfuse's own single-threaded fuse_session_loop (blocking read)
//   --loop own     the loop ecifs uses: non-blocking fd; after a request, keep trying
//                  to receive for up to --spin-us (reset by every request), then poll()
//
//   --reply direct the reply policy above (the default)
//   --reply cached what a design of one round trip per read would cost: each OPEN
//                  stores the content in the page cache (a store notification) and is
//                  answered keep_cache without direct_io, attributes show the content's
//                  size, and read(2) is served by the kernel: no READ reaches the server
//
//   bare_fuse --mountpoint DIR --loop stock|own [--spin-us 50] [--threads N]
//             [--reply direct|cached] --file REL=SOURCE [--file REL=SOURCE ...]
//
// REL is a path under the mountpoint (e.g. proc/meminfo), SOURCE the file whose
// content it serves. SIGTERM/SIGINT unmount and exit; on exit the number of requests
// of each opcode is printed to stderr.
#include <fuse_lowlevel.h>

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr double cache_seconds = 3600.0;

struct Node {
    std::string name;
    fuse_ino_t parent = 1;
    bool dir = true;
    std::string content;
    std::map<std::string, fuse_ino_t> children;
};

std::vector<Node> nodes;  // index = inode number; 0 unused, 1 = root
bool cached_replies = false;  // --reply cached
fuse_session* session = nullptr;

enum Op { LOOKUP, GETATTR, OPEN, READ, RELEASE, FLUSH, OPENDIR, READDIR, RELEASEDIR, FORGET, OP_COUNT };
const char* const op_names[OP_COUNT] = {"LOOKUP", "GETATTR", "OPEN",    "READ",       "RELEASE",
                                        "FLUSH",  "OPENDIR", "READDIR", "RELEASEDIR", "FORGET"};
std::atomic<uint64_t> op_count[OP_COUNT];

void count(Op op) { op_count[op].fetch_add(1, std::memory_order_relaxed); }

const Node* find(fuse_ino_t ino) { return ino >= 1 && ino < nodes.size() ? &nodes[ino] : nullptr; }

struct stat attributes(fuse_ino_t ino) {
    struct stat st {};
    st.st_ino = ino;
    if (nodes[ino].dir) {
        st.st_mode = S_IFDIR | 0555;
        st.st_nlink = 2;
    } else {
        st.st_mode = S_IFREG | 0444;
        st.st_nlink = 1;
    }
    st.st_size = cached_replies ? static_cast<off_t>(nodes[ino].content.size()) : 0;
    st.st_blksize = 4096;
    return st;
}

void do_lookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
    count(LOOKUP);
    const Node* dir = find(parent);
    if (!dir || !dir->dir) return (void)fuse_reply_err(req, ENOENT);
    auto it = dir->children.find(name);
    if (it == dir->children.end()) return (void)fuse_reply_err(req, ENOENT);
    fuse_entry_param entry{};
    entry.ino = it->second;
    entry.attr = attributes(it->second);
    entry.attr_timeout = entry.entry_timeout = cache_seconds;
    fuse_reply_entry(req, &entry);
}

void do_getattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info*) {
    count(GETATTR);
    if (!find(ino)) return (void)fuse_reply_err(req, ENOENT);
    struct stat st = attributes(ino);
    fuse_reply_attr(req, &st, cache_seconds);
}

void do_open(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
    count(OPEN);
    const Node* node = find(ino);
    if (!node) return (void)fuse_reply_err(req, ENOENT);
    if (node->dir) return (void)fuse_reply_err(req, EISDIR);
    if ((fi->flags & O_ACCMODE) != O_RDONLY) return (void)fuse_reply_err(req, EACCES);
    fi->noflush = 1;
    if (!cached_replies) {
        fi->direct_io = 1;
        return (void)fuse_reply_open(req, fi);
    }
    // The content never changes here; a server whose content does would store each
    // open's rendering (and the kernel extends i_size only: see fs/page_cache.hpp).
    const std::string& content = node->content;
    fuse_bufvec buf = FUSE_BUFVEC_INIT(content.size());
    buf.buf[0].mem = const_cast<char*>(content.data());
    if (!content.empty()) fuse_lowlevel_notify_store(session, ino, 0, &buf, fuse_buf_copy_flags{});
    fi->keep_cache = 1;
    fuse_reply_open(req, fi);
}

void do_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t offset, fuse_file_info*) {
    count(READ);
    const std::string& content = nodes[ino].content;
    size_t start = std::min(static_cast<size_t>(offset), content.size());
    fuse_reply_buf(req, content.data() + start, std::min(size, content.size() - start));
}

void do_release(fuse_req_t req, fuse_ino_t, fuse_file_info*) {
    count(RELEASE);
    fuse_reply_err(req, 0);
}

void do_flush(fuse_req_t req, fuse_ino_t, fuse_file_info*) {
    count(FLUSH);
    fuse_reply_err(req, 0);
}

void do_opendir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
    count(OPENDIR);
    const Node* node = find(ino);
    if (!node || !node->dir) return (void)fuse_reply_err(req, ENOTDIR);
    fuse_reply_open(req, fi);
}

void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t offset, fuse_file_info*) {
    count(READDIR);
    const Node& dir = nodes[ino];
    std::vector<std::pair<std::string, fuse_ino_t>> entries = {{".", ino}, {"..", dir.parent}};
    for (const auto& child : dir.children) entries.push_back(child);
    std::string buffer(size, '\0');
    size_t used = 0;
    for (size_t i = static_cast<size_t>(offset); i < entries.size(); ++i) {
        struct stat st = attributes(entries[i].second);
        size_t len = fuse_add_direntry(req, buffer.data() + used, size - used, entries[i].first.c_str(), &st,
                                       static_cast<off_t>(i + 1));
        if (len > size - used) break;
        used += len;
    }
    fuse_reply_buf(req, buffer.data(), used);
}

void do_releasedir(fuse_req_t req, fuse_ino_t, fuse_file_info*) {
    count(RELEASEDIR);
    fuse_reply_err(req, 0);
}

void do_forget(fuse_req_t req, fuse_ino_t, uint64_t) {
    count(FORGET);
    fuse_reply_none(req);
}

void do_forget_multi(fuse_req_t req, size_t, fuse_forget_data*) {
    count(FORGET);
    fuse_reply_none(req);
}

fuse_ino_t add_path(const std::string& rel, std::string content) {
    fuse_ino_t at = 1;
    std::stringstream parts(rel);
    std::vector<std::string> names;
    for (std::string part; std::getline(parts, part, '/');)
        if (!part.empty()) names.push_back(part);
    if (names.empty()) throw std::runtime_error("empty path");
    for (size_t i = 0; i < names.size(); ++i) {
        bool last = i + 1 == names.size();
        auto it = nodes[at].children.find(names[i]);
        if (it != nodes[at].children.end()) {
            if (last || !nodes[it->second].dir) throw std::runtime_error("duplicate path " + rel);
            at = it->second;
            continue;
        }
        Node node;
        node.name = names[i];
        node.parent = at;
        node.dir = !last;
        if (last) node.content = std::move(content);
        nodes.push_back(std::move(node));
        fuse_ino_t ino = nodes.size() - 1;
        nodes[at].children[names[i]] = ino;
        at = ino;
    }
    return at;
}

// The stock loop: libfuse's own, one thread, blocking read on the fd.
int run_stock(fuse_session* se) { return fuse_session_loop(se); }

// ecifs's loop: non-blocking fd; after each request keep receiving for up to `spin`
// (only while requests keep arriving), then sleep in poll() until the fd is readable.
void own_loop(fuse_session* se, std::chrono::microseconds spin, bool timed_poll) {
    fuse_buf buf{};
    const int fd = fuse_session_fd(se);
    auto deadline = std::chrono::steady_clock::time_point::min();
    while (!fuse_session_exited(se)) {
        int res = fuse_session_receive_buf(se, &buf);
        if (res == -EAGAIN) {
            if (std::chrono::steady_clock::now() < deadline) continue;  // spin
            pollfd p{fd, POLLIN, 0};
            // With several threads a signal reaches only one of them: the others wake
            // now and then to see that the session has exited.
            ::poll(&p, 1, timed_poll ? 200 : -1);
            continue;
        }
        if (res == -EINTR) continue;
        if (res <= 0) break;  // unmounted (or exited)
        fuse_session_process_buf(se, &buf);
        deadline = std::chrono::steady_clock::now() + spin;
    }
    std::free(buf.mem);
}

[[noreturn]] void usage(const char* why) {
    std::fprintf(stderr,
                 "bare_fuse: %s\nusage: bare_fuse --mountpoint DIR --loop stock|own [--spin-us N] [--threads N] "
                 "[--reply direct|cached] --file REL=SOURCE...\n",
                 why);
    std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
    std::string mountpoint, loop = "own", reply = "direct";
    long spin_us = 50;
    int threads = 1;
    nodes.resize(2);  // 0 unused, 1 root
    nodes[1].parent = 1;
    try {
        for (int i = 1; i < argc; ++i) {
            std::string arg = argv[i];
            auto value = [&]() -> std::string {
                if (i + 1 >= argc) usage(("missing value for " + arg).c_str());
                return argv[++i];
            };
            if (arg == "--mountpoint") mountpoint = value();
            else if (arg == "--loop") loop = value();
            else if (arg == "--spin-us") spin_us = std::stol(value());
            else if (arg == "--threads") threads = std::stoi(value());
            else if (arg == "--reply") reply = value();
            else if (arg == "--file") {
                std::string spec = value();
                auto eq = spec.find('=');
                if (eq == std::string::npos) usage("--file wants REL=SOURCE");
                std::ifstream in(spec.substr(eq + 1), std::ios::binary);
                if (!in) usage(("cannot read " + spec.substr(eq + 1)).c_str());
                std::stringstream content;
                content << in.rdbuf();
                add_path(spec.substr(0, eq), content.str());
            } else usage(("unknown argument " + arg).c_str());
        }
    } catch (const std::exception& e) {
        usage(e.what());
    }
    if (mountpoint.empty()) usage("--mountpoint is required");
    if (reply != "direct" && reply != "cached") usage("--reply is direct or cached");
    cached_replies = reply == "cached";
    if (loop != "stock" && loop != "own") usage("--loop is stock or own");
    if (threads < 1 || (loop == "stock" && threads != 1)) usage("--threads: >= 1, and 1 for the stock loop");

    fuse_lowlevel_ops ops{};
    ops.lookup = do_lookup;
    ops.getattr = do_getattr;
    ops.open = do_open;
    ops.read = do_read;
    ops.release = do_release;
    ops.flush = do_flush;
    ops.opendir = do_opendir;
    ops.readdir = do_readdir;
    ops.releasedir = do_releasedir;
    ops.forget = do_forget;
    ops.forget_multi = do_forget_multi;

    // The same mount options as ecifs's mounts.
    std::vector<std::string> words = {"bare_fuse", "-o",
                                      "allow_other,default_permissions,nosuid,nodev,noexec,fsname=bare,subtype=bare"};
    std::vector<char*> args_v;
    for (auto& w : words) args_v.push_back(w.data());
    fuse_args args = FUSE_ARGS_INIT(static_cast<int>(args_v.size()), args_v.data());
    fuse_session* se = fuse_session_new(&args, &ops, sizeof(ops), nullptr);
    fuse_opt_free_args(&args);
    if (!se) return 1;
    session = se;
    if (fuse_set_signal_handlers(se) != 0) return 1;
    if (fuse_session_mount(se, mountpoint.c_str()) != 0) return 1;

    int rc = 0;
    if (loop == "stock") {
        rc = run_stock(se);
    } else {
        int fd = fuse_session_fd(se);
        ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
        std::vector<std::thread> pool;
        for (int t = 1; t < threads; ++t)
            pool.emplace_back(own_loop, se, std::chrono::microseconds(spin_us), true);
        own_loop(se, std::chrono::microseconds(spin_us), threads > 1);
        for (auto& t : pool) t.join();
    }
    fuse_remove_signal_handlers(se);
    fuse_session_unmount(se);
    fuse_session_destroy(se);

    std::string counts;
    for (int op = 0; op < OP_COUNT; ++op)
        counts += std::string(" ") + op_names[op] + "=" + std::to_string(op_count[op].load());
    std::fprintf(stderr, "bare_fuse (%s loop): requests:%s\n", loop.c_str(), counts.c_str());
    return rc < 0 ? 1 : 0;
}
