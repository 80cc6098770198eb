#include "fs/operations.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>

#include "fs/open_file.hpp"
#include "sys/log_limit.hpp"

namespace ecifs::fs {

namespace {

// The static tree never changes while a mount lives, so the kernel may cache its names
// and attributes for long: every cached LOOKUP and GETATTR is a round trip saved.
constexpr double static_cache_seconds = 3600.0;
// Below a subtree the names depend on the caller's namespaces (an interface that
// exists in one network namespace only), so the kernel may cache them only briefly;
// an open of a name the caller's namespaces lack still fails with ENOENT.
constexpr double dynamic_cache_seconds = 1.0;

void release_listing(MountState& state, const OpenDir& dir) {
    for (fuse_ino_t ino : dir.held) state.dynamic.release(ino, 1);
}

// What an inode stands for: a node of the static table, or a path below a subtree root.
struct Target {
    fuse_ino_t ino = 0;
    const Node* node = nullptr;  // the static node, or the subtree root of a dynamic one
    bool dynamic = false;
    std::string path;  // inside the subtree; "" for the subtree root itself

    const handlers::Subtree* subtree() const { return node->subtree; }
    bool in_subtree() const { return node->subtree != nullptr; }
    double cache_seconds() const { return in_subtree() ? dynamic_cache_seconds : static_cache_seconds; }
};

std::optional<Target> resolve(const MountState& state, fuse_ino_t ino) {
    if (const Node* node = state.nodes.find(ino)) return Target{ino, node, false, ""};
    if (auto dyn = state.dynamic.find(ino)) return Target{ino, dyn->root, true, dyn->path};
    return std::nullopt;
}

// The ids the kernel gets for an owner: the host's root for its own files (not mapped
// into the container's user namespace, so shown there as the overflow ids), or the host
// ids of the container's root.
struct stat base_attributes(const MountState& state, fuse_ino_t ino, handlers::Owner owner) {
    struct stat st {};
    st.st_ino = ino;
    const bool containers = owner == handlers::Owner::container_root;
    st.st_uid = containers ? state.container->root_uid() : 0;
    st.st_gid = containers ? state.container->root_gid() : 0;
    st.st_blksize = 4096;
    st.st_atim = st.st_mtim = st.st_ctim = state.mounted_at;
    return st;
}

struct stat static_attributes(const MountState& state, const Node& node) {
    struct stat st = base_attributes(state, node.ino, node.is_dir() ? handlers::Owner::kernel : node.file->owner);
    if (node.is_dir()) {
        st.st_mode = S_IFDIR | 0555;
        st.st_nlink = 2;
        for (const auto& [name, ino] : node.children)
            if (state.nodes.find(ino)->is_dir()) ++st.st_nlink;
    } else {
        st.st_mode = S_IFREG | node.file->mode;
        st.st_nlink = 1;
    }
    return st;
}

struct stat info_attributes(const MountState& state, fuse_ino_t ino, const handlers::NodeInfo& info) {
    struct stat st = base_attributes(state, ino, info.owner);
    st.st_mode = (info.is_dir ? S_IFDIR : info.is_symlink ? S_IFLNK : S_IFREG) | info.mode;
    st.st_nlink = info.nlink ? info.nlink : info.is_dir ? 2 : 1;
    return st;
}

// Bump the inode's attribute version, leaving its size alone: an empty store past any
// end the file may have (fuse_notify_store extends i_size only by bytes it stores).
// Attributes the kernel asked for before this are then given to stat(2) but do not
// change i_size, and stat(2) asks again next time (see PageCache).
void bump_attribute_version(MountState& state, fuse_ino_t ino) {
    constexpr off_t far_past_any_end = off_t{1} << 40;
    int err = state.kernel->notify_store(ino, far_past_any_end, {});
    if (err && err != -ENOENT)  // ENOENT: the kernel has no such inode (any more)
        sys::log_limited(spdlog::level::warn, state.container->id(), "bump", "container {}: cannot bump the "
                         "attributes of inode {}: {}", state.container->id(), ino, std::strerror(-err));
}

// Before attributes of a file go out: if an open handle needs i_size to stay above
// the 0 bytes stat shows, the reply is made stale.
void before_attributes(MountState& state, const struct stat& st) {
    if (S_ISREG(st.st_mode) && state.page_cache.keep_on_attributes(st.st_ino)) bump_attribute_version(state, st.st_ino);
}

// Attributes of any target; a subtree path, its root included, is asked of its subtree
// (it may be gone, and a root shows what the directory it stands for shows).
int attributes(const Request& req, const Target& target, struct stat& out) {
    const MountState& state = req.state;
    if (!target.in_subtree()) {
        out = static_attributes(state, *target.node);
        return 0;
    }
    handlers::NodeInfo info;
    if (int err = target.subtree()->stat(req.context(), target.path, info)) return err;
    out = info_attributes(state, target.ino, info);
    return 0;
}

std::optional<Target> target_or_reply(const Request& req, fuse_ino_t ino) {
    auto target = resolve(req.state, ino);
    if (!target) req.reply_err(ENOENT);
    return target;
}

std::string join(const std::string& dir, std::string_view name) {
    return dir.empty() ? std::string(name) : dir + '/' + std::string(name);
}

}  // namespace

void op::lookup(const Request& req, fuse_ino_t parent, const char* name) {
    MountState& state = req.state;
    auto dir = target_or_reply(req, parent);
    if (!dir) return;
    fuse_entry_param entry{};
    if (!dir->in_subtree()) {
        if (!dir->node->is_dir()) return (void)req.reply_err(ENOTDIR);
        const Node* node = state.nodes.child(*dir->node, name);
        if (!node) return (void)req.reply_err(ENOENT);
        const Target child{node->ino, node, false, ""};
        if (int err = attributes(req, child, entry.attr)) return (void)req.reply_err(err);
        entry.ino = node->ino;
        entry.attr_timeout = entry.entry_timeout = child.cache_seconds();
        before_attributes(state, entry.attr);
        return (void)req.reply_entry(entry);
    }
    std::string path = join(dir->path, name);
    handlers::NodeInfo info;
    if (int err = dir->subtree()->stat(req.context(), path, info)) return (void)req.reply_err(err);
    entry.ino = state.dynamic.intern(*dir->node, path);
    entry.attr = info_attributes(state, entry.ino, info);
    entry.attr_timeout = entry.entry_timeout = dynamic_cache_seconds;
    before_attributes(state, entry.attr);
    // An entry the kernel did not take (the request was interrupted) is not counted.
    if (req.reply_entry(entry) != 0) state.dynamic.release(entry.ino, 1);
}

namespace {

// The kernel dropped `nlookup` of its references: a dynamic inode goes at zero (the
// static tree stays), and with it the page-cache record.
void forgotten(MountState& state, fuse_ino_t ino, uint64_t nlookup) {
    state.page_cache.forgotten(ino);
    state.dynamic.release(ino, nlookup);
}

}  // namespace

void op::forget(const Request& req, fuse_ino_t ino, uint64_t nlookup) {
    forgotten(req.state, ino, nlookup);
    req.reply_none();
}

void op::forget_multi(const Request& req, size_t count, fuse_forget_data* forgets) {
    for (size_t i = 0; i < count; ++i) forgotten(req.state, forgets[i].ino, forgets[i].nlookup);
    req.reply_none();
}

void op::getattr(const Request& req, fuse_ino_t ino, fuse_file_info*) {
    auto target = target_or_reply(req, ino);
    if (!target) return;
    struct stat st;
    if (int err = attributes(req, *target, st)) return (void)req.reply_err(err);
    before_attributes(req.state, st);
    req.reply_attr(st, target->cache_seconds());
}

// As procfs' proc_sys_setattr: modes and owners are fixed; truncation (O_TRUNC before
// a write) is accepted and changes nothing.
void op::setattr(const Request& req, fuse_ino_t ino, struct stat*, int to_set, fuse_file_info*) {
    auto target = target_or_reply(req, ino);
    if (!target) return;
    if (to_set & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) return (void)req.reply_err(EPERM);
    struct stat st;
    if (int err = attributes(req, *target, st)) return (void)req.reply_err(err);
    // The kernel takes a SETATTR reply's size whatever the inode's attribute version.
    if (S_ISREG(st.st_mode)) req.state.page_cache.sized(ino);
    req.reply_attr(st, target->cache_seconds());
}

namespace {

int list_static(const MountState& state, const Node& dir, std::vector<DirEntry>& out) {
    for (const auto& [name, ino] : dir.children) out.push_back({name, ino, static_attributes(state, *state.nodes.find(ino))});
    return 0;
}

int list_subtree(const Request& req, const Target& dir, OpenDir& out) {
    MountState& state = req.state;
    std::vector<std::pair<std::string, handlers::NodeInfo>> children;
    if (int err = dir.subtree()->list(req.context(), dir.path, children)) return err;
    for (auto& [name, info] : children) {
        fuse_ino_t ino = state.dynamic.intern(*dir.node, join(dir.path, name));
        out.held.push_back(ino);
        out.entries.push_back({std::move(name), ino, info_attributes(state, ino, info)});
    }
    return 0;
}

// A directory's listing, as OPENDIR takes it: "." and "..", then its entries.
std::shared_ptr<OpenDir> list_directory(const Request& req, fuse_ino_t ino, int& err) {
    MountState& state = req.state;
    auto dir = resolve(state, ino);
    if (!dir) return err = ENOENT, nullptr;
    struct stat self;
    if ((err = attributes(req, *dir, self))) return nullptr;
    if (!S_ISDIR(self.st_mode)) return err = ENOTDIR, nullptr;
    auto open = std::make_shared<OpenDir>();
    // ".." of a path below a subtree is given as the subtree's root: the kernel does
    // not use it (it knows the parent dentry), readers only see the name.
    const fuse_ino_t parent_ino = dir->dynamic ? dir->node->ino : dir->node->parent;
    open->entries.push_back({".", dir->ino, self});
    open->entries.push_back({"..", parent_ino, static_attributes(state, *state.nodes.find(parent_ino))});
    err = dir->in_subtree() ? list_subtree(req, *dir, *open) : list_static(state, *dir->node, open->entries);
    if (!err) return open;
    release_listing(state, *open);
    return nullptr;
}

}  // namespace

void op::opendir(const Request& req, fuse_ino_t ino, fuse_file_info* fi) {
    int err = 0;
    auto open = list_directory(req, ino, err);
    if (!open) return (void)req.reply_err(err);
    fi->fh = req.state.dirs.add(open);
    if (req.reply_open(*fi) != 0) {  // no RELEASEDIR will come
        req.state.dirs.take(fi->fh);
        release_listing(req.state, *open);
    }
}

// An entry's offset is its index + 1. (fuse_add_direntry only formats: it does not use
// the request, so a test's will do.)
// A handle an earlier daemon gave (docs/restart.md) is listed again.
void op::readdir(const Request& req, fuse_ino_t ino, size_t size, off_t offset, fuse_file_info* fi) {
    auto dir = req.state.dirs.find(fi->fh);
    if (!dir) {
        int err = 0;
        if (!(dir = list_directory(req, ino, err))) return (void)req.reply_err(err);
        req.state.dirs.adopt(fi->fh, dir);
    }
    const auto& entries = dir->entries;
    std::string buffer(size, '\0');
    size_t used = 0;
    for (size_t i = static_cast<size_t>(std::max<off_t>(offset, 0)); i < entries.size(); ++i) {
        struct stat st = entries[i].attr;
        st.st_ino = entries[i].ino;
        size_t len = fuse_add_direntry(req.id, buffer.data() + used, size - used, entries[i].name.c_str(), &st,
                                       static_cast<off_t>(i + 1));
        if (len > size - used) break;
        used += len;
    }
    req.reply_buf(buffer.data(), used);
}

void op::releasedir(const Request& req, fuse_ino_t, fuse_file_info* fi) {
    if (auto dir = req.state.dirs.take(fi->fh)) release_listing(req.state, *dir);
    req.reply_err(0);
}

namespace {

// An open the kernel does not learn of (the opener was interrupted) gets no RELEASE.
void reply_open(const Request& req, fuse_ino_t ino, fuse_file_info fi, Content content, int error) {
    fi.fh = req.state.files.add(std::make_shared<OpenFile>(std::move(content), error));
    if (req.reply_open(fi) != 0) {
        req.state.files.take(fi.fh);
        req.state.page_cache.released(ino, false);
    }
}

// Store the snapshot's last byte: the kernel then extends i_size to its length. The
// attribute version is bumped first: attributes or a short read the kernel asked for
// earlier are applied by their requester after it wakes, maybe after this store, and
// must not shrink i_size again (a store that extends nothing bumps nothing).
void extend_size(MountState& state, fuse_ino_t ino, const std::string& content, uint64_t shrinks_seen) {
    bump_attribute_version(state, ino);
    int err = state.kernel->notify_store(ino, content.size() - 1, std::string_view(&content.back(), 1));
    state.page_cache.extended(ino, content.size(), shrinks_seen, err == 0);
    if (err)
        sys::log_limited(spdlog::level::warn, state.container->id(), "i_size", "container {}: cannot extend i_size "
                         "of inode {}: {}", state.container->id(), ino, std::strerror(-err));
}

// Render the file for reading: a static file's generator or the subtree's read.
int render(const Request& req, const Target& target, std::string& out) {
    if (!target.dynamic) return target.node->file->read(req.context(), out);
    return target.subtree()->read(req.context(), target.path, out);
}

bool writable(const Target& target, const struct stat& attr) {
    if (!target.dynamic) return target.node->file->write != nullptr;
    return (attr.st_mode & 0222) != 0;
}

// An open's attributes and, unless it is write-only, its first rendering: for a subtree
// in one call (Subtree::open), so that one backed by a helper process asks it once.
int open_target(const Request& req, const Target& target, int access, struct stat& attr, handlers::Opened& opened) {
    if (target.dynamic) {
        if (int err = target.subtree()->open(req.context(), target.path, access, opened)) return err;
        attr = info_attributes(req.state, target.ino, opened.info);
        return 0;
    }
    attr = static_attributes(req.state, *target.node);
    if (access != O_WRONLY && !S_ISDIR(attr.st_mode)) opened.read_result = render(req, target, opened.content);
    return 0;
}

}  // namespace

void op::open(const Request& req, fuse_ino_t ino, fuse_file_info* fi) {
    MountState& state = req.state;
    auto target = target_or_reply(req, ino);
    if (!target) return;
    const int access = fi->flags & O_ACCMODE;
    struct stat attr;
    handlers::Opened opened;
    if (int err = open_target(req, *target, access, attr, opened)) return (void)req.reply_err(err);
    if (S_ISDIR(attr.st_mode)) return (void)req.reply_err(EISDIR);
    if (access != O_RDONLY && !writable(*target, attr)) return (void)req.reply_err(EACCES);
    const int error = opened.read_result;
    if (error)
        sys::log_limited(spdlog::level::debug, state.container->id(), "read", "container {}: reading inode {} "
                         "failed: {}", state.container->id(), ino, std::strerror(error));
    fi->direct_io = 1;  // st_size is 0: read(2) must ask us, not the page cache
    fi->noflush = 1;    // nothing to flush: saves a round trip on every close
    Content content = error ? nullptr : state.snapshots.keep(ino, std::move(opened.content));
    auto cached = state.page_cache.opened(ino, access != O_WRONLY ? content : nullptr, fi->flags & O_TRUNC);
    if (!cached.extend) return reply_open(req, ino, *fi, std::move(content), error);
    state.run_blocking([&state, req, ino, cached, info = *fi, content] {
        extend_size(state, ino, *cached.cache, cached.shrinks_seen);
        reply_open(req, ino, info, content, 0);
    });
}

namespace {

// The open file of a handle. One an earlier daemon gave (docs/restart.md) is taken on
// as a handle without a snapshot: its next READ renders the file.
std::shared_ptr<OpenFile> open_file(const Request& req, uint64_t fh) {
    if (auto file = req.state.files.find(fh)) return file;
    auto file = std::make_shared<OpenFile>(nullptr, 0);
    req.state.files.adopt(fh, file);
    return file;
}

// What a READ answers: its content, or an errno. Worked out under the handle's lock,
// replied after it: once a reply is out the reader may close, and the RELEASE, on
// another thread, deletes the OpenFile, its lock with it.
struct ReadAnswer {
    Content content;
    int error = 0;
};

// Render the file again for `file`: its new snapshot if the cap allows, else a
// rendering for this READ only (see OpenFile). Under the handle's lock.
ReadAnswer rerender(const Request& req, fuse_ino_t ino, OpenFile& file) {
    auto target = resolve(req.state, ino);
    if (!target) return {nullptr, ENOENT};
    std::string fresh;
    file.error = render(req, *target, fresh);
    file.content = nullptr;
    if (file.error) return {nullptr, file.error};
    if (Content kept = req.state.snapshots.keep(ino, std::move(fresh))) return {file.content = kept};
    return {std::make_shared<const std::string>(std::move(fresh))};
}

// read(2) gets the handle's own snapshot. A read at offset 0 after it has been served
// starts a new pass: render again; so does every READ of a handle without a snapshot.
ReadAnswer handle_read(const Request& req, fuse_ino_t ino, off_t offset, OpenFile& file) {
    std::lock_guard guard(file.lock);
    if (!std::exchange(file.read_any, true)) {
        file.read_by_read = true;
        req.state.page_cache.settled(ino);
    }
    const bool again = (offset == 0 && file.served) || (!file.content && !file.error);
    file.served = true;
    if (again) return rerender(req, ino, file);
    return {file.content, file.error};
}

// A READ without a lock owner fills the page cache (splice, sendfile: direct_io's
// read(2) carries one): it gets the inode's cache content (see PageCache).
ReadAnswer page_cache_read(const Request& req, fuse_ino_t ino, OpenFile& file) {
    {
        std::lock_guard guard(file.lock);
        file.read_any = true;
        if (file.error) return {nullptr, file.error};
    }
    if (Content cache = req.state.page_cache.splice_read(ino)) return {cache};
    std::lock_guard guard(file.lock);
    if (!file.content && !file.error) return rerender(req, ino, file);
    return {file.content, file.error};
}

}  // namespace

void op::read(const Request& req, fuse_ino_t ino, size_t size, off_t offset, fuse_file_info* fi) {
    if (offset < 0) return (void)req.reply_err(EINVAL);
    MountState& state = req.state;
    const auto file = open_file(req, fi->fh);
    const bool fills_page_cache = fi->lock_owner == 0;
    const auto [content, error] = fills_page_cache ? page_cache_read(req, ino, *file) : handle_read(req, ino, offset, *file);
    if (error || !content) return (void)req.reply_err(error ? error : EIO);
    size_t start = std::min(static_cast<size_t>(offset), content->size());
    size_t length = std::min(size, content->size() - start);
    if (fills_page_cache && length < size) state.page_cache.short_read(ino, start + length);
    req.reply_buf(content->data() + start, length);
}

// One write(2) is one whole value, as for the kernel's sysctl files. A write at a
// non-zero offset is accepted and ignored, as the kernel does for numeric sysctls
// (kernel.sysctl_writes_strict=1), unless a subtree's file takes it (see write_handle).
void op::write(const Request& req, fuse_ino_t ino, const char* data, size_t size, off_t offset, fuse_file_info* fi) {
    auto target = target_or_reply(req, ino);
    if (!target) return;
    std::string_view value(data, size);
    if (!target->dynamic) {
        if (offset > 0) return (void)req.reply_write(size);
        const auto* file = target->node->file;
        int err = file && file->write ? file->write(req.context(), value) : EACCES;
        return (void)(err ? req.reply_err(err) : req.reply_write(size));
    }
    // A subtree's write may attach an event source to the handle (a PSI trigger).
    const auto handle = open_file(req, fi->fh);
    OpenFile& file = *handle;
    int err = 0;
    {
        std::lock_guard guard(file.lock);
        handlers::EventSource source{file.event != 0};
        err = target->subtree()->write_handle(req.context(), target->path, value, offset, source);
        if (!err && source.fd >= 0 && !(file.event = req.state.events.add(source.fd))) err = errno;
    }
    if (err) return (void)req.reply_err(err);
    req.reply_write(size);
}

// poll(2): the file's answer, with its event source's firing consumed; `ph` (when the
// poller will wait) is woken at the source's next firing.
void op::poll(const Request& req, fuse_ino_t ino, fuse_file_info* fi, fuse_pollhandle* ph) {
    auto target = resolve(req.state, ino);
    const auto file = open_file(req, fi->fh);
    EventSources::Id event;
    {
        std::lock_guard guard(file->lock);
        event = file->event;
    }
    const bool fired = event != 0 && req.state.events.poll(event, std::exchange(ph, nullptr));
    if (ph) fuse_pollhandle_destroy(ph);
    const bool dynamic = target && target->dynamic;
    req.reply_poll(dynamic ? target->subtree()->poll(target->path, event != 0, fired) : handlers::default_poll_mask);
}

void op::readlink(const Request& req, fuse_ino_t ino) {
    auto target = target_or_reply(req, ino);
    if (!target) return;
    if (!target->dynamic) return (void)req.reply_err(EINVAL);
    std::string link;
    if (int err = target->subtree()->readlink(req.context(), target->path, link)) return (void)req.reply_err(err);
    req.reply_readlink(link.c_str());
}

void op::release(const Request& req, fuse_ino_t ino, fuse_file_info* fi) {
    if (auto file = req.state.files.take(fi->fh)) {
        req.state.page_cache.released(ino, file->read_by_read);
        if (file->event) req.state.events.remove(file->event);  // ends the trigger
    }
    req.reply_err(0);
}

void op::flush(const Request& req, fuse_ino_t, fuse_file_info*) { req.reply_err(0); }

}  // namespace ecifs::fs
