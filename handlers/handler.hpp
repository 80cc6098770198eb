#pragma once
// The contract between the FUSE core and the per-file emulation.
//
// Every view is one row of the registry (handlers/registry.cpp): a file or a run-time
// subtree, at one path that is also where the container gets it and the name it logs
// under. A file's show function renders it whole from a ready view of the started
// container (handlers/view.hpp; the kernel's seq_file "show"); it knows no FUSE types.
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <cerrno>
#include <cstdint>

#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ecifs::emulation {
class Container;
}

namespace ecifs::handlers {

struct ContainerView;  // handlers/view.hpp

// Who is asking: the container (the mount is the identity) and the calling process,
// whose pid is used only to reach the caller's own namespaces.
struct Context {
    const emulation::Container& container;
    pid_t caller = 0;
};

// Render the whole file of a started container into `out`. Returns 0 or a positive
// errno; an exception is EIO, logged (handlers/view.hpp).
using Show = int (*)(const ContainerView&, std::string& out);
// Render a file that needs no started container (the container's own values) into
// `out`. Returns 0 or a positive errno.
using Generator = int (*)(const Context&, std::string& out);
// Validate and apply a write of the whole file. Returns 0 or a positive errno.
using Writer = int (*)(const Context&, std::string_view data);

// Who owns an entry, as the container sees it. The kernel's files are the host root's:
// ids the container's user namespace does not map, so they show as nobody/nogroup and
// its root has only what "other" is granted. What ecifs keeps as the container's own
// (an emulated sysctl, its product_uuid) is its root's, the one who may write it.
enum class Owner : uint8_t { kernel, container_root };

struct FileEntry {
    std::string_view path;  // relative to the mount root, e.g. "proc/meminfo"
    mode_t mode;            // permission bits, as the kernel shows them
    Show show = nullptr;           // either a view of the started container
    Generator generate = nullptr;  // or the container's own value
    Writer write = nullptr;
    Owner owner = Owner::kernel;

    // Render the whole file: `show` through with_view(), or `generate`.
    int read(const Context&, std::string& out) const;
};

// Every emulated file, in registry order (derived from view_table()).
std::span<const FileEntry> file_table();

// The paths of the mount that are placed into the container, each at "/" + path
// (a file or a whole subtree): every row's. The daemon reports them on prepare; the
// shim places them.
std::span<const std::string_view> view_mounts();

}  // namespace ecifs::handlers

namespace ecifs::handlers {

// What a subtree says of one of its paths.
struct NodeInfo {
    bool is_dir = false;
    bool is_symlink = false;  // then readlink() gives the target
    mode_t mode = 0;          // permission bits, as the kernel shows them
    Owner owner = Owner::kernel;
    uint32_t nlink = 0;  // 0: 2 for a directory, 1 otherwise

    // A host file as the kernel shows it to the container: its type, mode and links,
    // owned by the kernel.
    static NodeInfo of_host_file(const struct stat& st);
};

// What an open of a subtree's path needs: its attributes and, for a file being opened
// for reading, its content or the read's errno.
struct Opened {
    NodeInfo info;
    int read_result = 0;
    std::string content;
};

// An open handle's event source: a descriptor of the kernel's that polls POLLPRI when
// the event fires and whose close ends it (a PSI trigger registered on the container's
// cgroup). A write may make one; the handle keeps it until its release.
struct EventSource {
    bool attached = false;  // the handle already has one
    int fd = -1;            // set by a write that made one; the handle owns it from then on
};

// poll(2)'s answer for a file without events, as the kernel's for a seq_file.
inline constexpr unsigned default_poll_mask = POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM;

// A directory whose shape is known only at run time (e.g. proc/sys, which mirrors what
// the kernel shows the caller's namespaces). Paths are relative to the subtree's root,
// "" being the root itself, components joined by '/'. Every method returns 0 or a
// positive errno; like a generator, none knows FUSE.
class Subtree {
public:
    virtual ~Subtree() = default;
    virtual int stat(const Context&, std::string_view path, NodeInfo& out) const = 0;
    virtual int list(const Context&, std::string_view dir, std::vector<std::pair<std::string, NodeInfo>>& out) const = 0;
    // Render the whole file (a snapshot, taken at open).
    virtual int read(const Context&, std::string_view path, std::string& out) const = 0;
    // Validate and apply one write(2) of a whole value.
    virtual int write(const Context&, std::string_view path, std::string_view data) const = 0;
    // One write(2), at `offset`, to an open handle, which may attach an event source to
    // it (PSI triggers: see EventSource). Files without events: write() at offset 0; a
    // write at a later offset is accepted and ignored, as the kernel does for numeric
    // sysctls (kernel.sysctl_writes_strict=1).
    virtual int write_handle(const Context& ctx, std::string_view path, std::string_view data, off_t offset,
                             EventSource&) const {
        return offset > 0 ? 0 : write(ctx, path, data);
    }
    // poll(2) of an open handle, as the kernel's f_op->poll answers it (POLL* bits);
    // `fired`: its event source fired since the last poll.
    virtual unsigned poll(std::string_view, bool /*has_source*/, bool /*fired*/) const { return default_poll_mask; }
    // The target of a symlink (sysfs has many).
    virtual int readlink(const Context&, std::string_view, std::string&) const { return EINVAL; }
    // An open with `access` (O_RDONLY, O_WRONLY or O_RDWR): stat, then read unless it
    // is write-only or a directory. Returns the open's errno. A subtree whose answers come
    // from one place (proc/sys's namespace executors, which also let the kernel decide
    // whether the caller may open) overrides it to ask that place once.
    virtual int open(const Context& ctx, std::string_view path, int access, Opened& out) const {
        if (int err = stat(ctx, path, out.info)) return err;
        if (access != O_WRONLY && !out.info.is_dir) out.read_result = read(ctx, path, out.content);
        return 0;
    }
};

struct SubtreeEntry {
    std::string_view path;  // where the subtree's root sits in the mount, e.g. "proc/sys"
    const Subtree* subtree;
};

// Every run-time subtree, in registry order (derived from view_table()).
std::span<const SubtreeEntry> subtree_table();

// One row of the registry: a view at `path` (relative to the mount root), placed into
// the container at "/" + path and logged under that name. It is a file, or, when
// `subtree` is set, a run-time subtree rooted there.
struct ViewRow {
    std::string_view path;
    FileEntry file{};
    const Subtree* subtree = nullptr;
};

// Every view, one row each (handlers/registry.cpp).
std::span<const ViewRow> view_table();

}  // namespace ecifs::handlers
