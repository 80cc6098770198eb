#include "fs/operations.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <string>

#include <spdlog/spdlog.h>

namespace ecifs::fs {

namespace {

// The tree never changes while a mount lives, so the kernel may cache names and
// attributes for long: every cached LOOKUP and GETATTR is a round trip saved.
constexpr double cache_seconds = 3600.0;

// One open file: its content rendered once at open, like the kernel's seq_file, so
// later reads at any offset see one consistent snapshot.
struct OpenFile {
    std::string content;
};

MountState& state_of(fuse_req_t req) { return *static_cast<MountState*>(fuse_req_userdata(req)); }

struct stat attributes_of(const MountState& state, const Node& node) {
    struct stat st {};
    st.st_ino = node.ino;
    if (node.is_dir()) {
        st.st_mode = S_IFDIR | 0555;
        st.st_nlink = 2;
        for (const auto& [name, ino] : node.children)
            if (state.nodes.find(ino)->is_dir()) ++st.st_nlink;
    } else {
        st.st_mode = S_IFREG | node.file->mode;
        st.st_nlink = 1;
    }
    st.st_uid = state.container->root_uid();
    st.st_gid = state.container->root_gid();
    st.st_size = 0;  // as procfs and sysfs report: the size is known only by reading
    st.st_blksize = 4096;
    st.st_atim = st.st_mtim = st.st_ctim = state.mounted_at;
    return st;
}

const Node* node_or_reply(fuse_req_t req, fuse_ino_t ino) {
    const Node* node = state_of(req).nodes.find(ino);
    if (!node) fuse_reply_err(req, ENOENT);
    return node;
}

void do_lookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
    const MountState& state = state_of(req);
    const Node* dir = node_or_reply(req, parent);
    if (!dir) return;
    if (!dir->is_dir()) return (void)fuse_reply_err(req, ENOTDIR);
    const Node* node = state.nodes.child(*dir, name);
    if (!node) return (void)fuse_reply_err(req, ENOENT);
    fuse_entry_param entry{};
    entry.ino = node->ino;
    entry.attr = attributes_of(state, *node);
    entry.attr_timeout = entry.entry_timeout = cache_seconds;
    fuse_reply_entry(req, &entry);
}

void do_forget(fuse_req_t req, fuse_ino_t, uint64_t) { fuse_reply_none(req); }
void do_forget_multi(fuse_req_t req, size_t, fuse_forget_data*) { fuse_reply_none(req); }

void do_getattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info*) {
    const Node* node = node_or_reply(req, ino);
    if (!node) return;
    struct stat st = attributes_of(state_of(req), *node);
    fuse_reply_attr(req, &st, cache_seconds);
}

void do_opendir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
    const Node* node = node_or_reply(req, ino);
    if (!node) return;
    if (!node->is_dir()) return (void)fuse_reply_err(req, ENOTDIR);
    fi->cache_readdir = 1;
    fuse_reply_open(req, fi);
}

// Entries are ".", "..", then the children; an entry's offset is its index + 1.
void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t offset, fuse_file_info*) {
    const MountState& state = state_of(req);
    const Node* dir = node_or_reply(req, ino);
    if (!dir) return;
    std::string buffer(size, '\0');
    size_t used = 0;
    auto add = [&](const char* name, const Node& node, off_t next) {
        struct stat st = attributes_of(state, node);
        size_t len = fuse_add_direntry(req, buffer.data() + used, size - used, name, &st, next);
        if (len > size - used) return false;
        used += len;
        return true;
    };
    const off_t count = 2 + static_cast<off_t>(dir->children.size());
    for (off_t i = offset; i < count; ++i) {
        bool fitted = i == 0   ? add(".", *dir, 1)
                      : i == 1 ? add("..", *state.nodes.find(dir->parent), 2)
                               : add(dir->children[i - 2].first.c_str(), *state.nodes.find(dir->children[i - 2].second), i + 1);
        if (!fitted) break;
    }
    fuse_reply_buf(req, buffer.data(), used);
}

void reply_open(fuse_req_t req, fuse_file_info fi, std::unique_ptr<OpenFile> file) {
    fi.fh = reinterpret_cast<uint64_t>(file.get());
    if (fuse_reply_open(req, &fi) == 0) file.release();
}

// Store the snapshot's last byte: the kernel then extends i_size to its length.
void extend_size(MountState& state, fuse_ino_t ino, const std::string& content, uint64_t shrinks_seen) {
    fuse_bufvec last = FUSE_BUFVEC_INIT(1);
    last.buf[0].mem = const_cast<char*>(content.data() + content.size() - 1);
    int err = fuse_lowlevel_notify_store(state.session, ino, content.size() - 1, &last, fuse_buf_copy_flags{});
    if (err == 0) state.size_floors.extended(ino, content.size(), shrinks_seen);
    else spdlog::warn("container {}: cannot extend i_size of inode {}: {}", state.container->id(), ino, std::strerror(-err));
}

void do_open(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
    MountState& state = state_of(req);
    const Node* node = node_or_reply(req, ino);
    if (!node) return;
    if (node->is_dir()) return (void)fuse_reply_err(req, EISDIR);
    if ((fi->flags & O_ACCMODE) != O_RDONLY && !node->file->write) return (void)fuse_reply_err(req, EACCES);
    auto file = std::make_unique<OpenFile>();
    if ((fi->flags & O_ACCMODE) != O_WRONLY) {
        handlers::Context ctx{*state.container, fuse_req_ctx(req)->pid};
        if (int err = node->file->generate(ctx, file->content); err != 0) {
            spdlog::debug("container {}: {} failed: {}", state.container->id(), node->file->path, std::strerror(err));
            return (void)fuse_reply_err(req, err);
        }
    }
    fi->direct_io = 1;  // st_size is 0: the kernel must ask us, not its page cache
    fi->noflush = 1;    // nothing to flush: saves a round trip on every close
    auto need = state.size_floors.need_extend(ino, file->content.size());
    if (!need.extend) return reply_open(req, *fi, std::move(file));
    state.run_blocking([&state, req, ino, need, info = *fi, file = std::shared_ptr<OpenFile>(std::move(file))]() mutable {
        extend_size(state, ino, file->content, need.shrinks_seen);
        reply_open(req, info, std::make_unique<OpenFile>(std::move(*file)));
    });
}

void do_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t offset, fuse_file_info* fi) {
    const std::string& content = reinterpret_cast<OpenFile*>(fi->fh)->content;
    if (offset < 0) return (void)fuse_reply_err(req, EINVAL);
    size_t start = std::min(static_cast<size_t>(offset), content.size());
    size_t length = std::min(size, content.size() - start);
    if (length < size) state_of(req).size_floors.may_shrink(ino, start + length);
    fuse_reply_buf(req, content.data() + start, length);
}

void do_write(fuse_req_t req, fuse_ino_t ino, const char* data, size_t size, off_t, fuse_file_info*) {
    const MountState& state = state_of(req);
    const Node* node = node_or_reply(req, ino);
    if (!node) return;
    if (node->is_dir() || !node->file->write) return (void)fuse_reply_err(req, EACCES);
    handlers::Context ctx{*state.container, fuse_req_ctx(req)->pid};
    if (int err = node->file->write(ctx, std::string_view(data, size)); err != 0)
        return (void)fuse_reply_err(req, err);
    fuse_reply_write(req, size);
}

void do_release(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
    delete reinterpret_cast<OpenFile*>(fi->fh);
    fuse_reply_err(req, 0);
}

void do_flush(fuse_req_t req, fuse_ino_t, fuse_file_info*) { fuse_reply_err(req, 0); }

fuse_lowlevel_ops make_operations() {
    fuse_lowlevel_ops ops{};
    ops.lookup = do_lookup;
    ops.forget = do_forget;
    ops.forget_multi = do_forget_multi;
    ops.getattr = do_getattr;
    ops.opendir = do_opendir;
    ops.readdir = do_readdir;
    ops.open = do_open;
    ops.read = do_read;
    ops.write = do_write;
    ops.flush = do_flush;
    ops.release = do_release;
    return ops;
}

}  // namespace

SizeFloors::Need SizeFloors::need_extend(fuse_ino_t ino, uint64_t length) {
    std::lock_guard lock(mutex_);
    return {length > floor_.at(ino), shrinks_.at(ino)};
}

// Raise the bound only if no short read (which may have shrunk i_size) was answered
// since the need was computed.
void SizeFloors::extended(fuse_ino_t ino, uint64_t length, uint64_t shrinks_seen) {
    std::lock_guard lock(mutex_);
    if (shrinks_.at(ino) == shrinks_seen) floor_[ino] = std::max(floor_[ino], length);
}

// Called before a short read is answered: the kernel may set i_size to `length`.
void SizeFloors::may_shrink(fuse_ino_t ino, uint64_t length) {
    std::lock_guard lock(mutex_);
    floor_.at(ino) = std::min(floor_[ino], length);
    ++shrinks_[ino];
}

const fuse_lowlevel_ops& operations() {
    static const fuse_lowlevel_ops ops = make_operations();
    return ops;
}

}  // namespace ecifs::fs
