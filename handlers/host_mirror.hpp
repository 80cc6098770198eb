#pragma once
// A read-only view of a host directory (sysfs mostly): the host's names, modes, symlinks
// and contents, never writable from a container, with some directories shown empty.
#include <string>
#include <vector>

#include "handlers/handler.hpp"

namespace ecifs::handlers {

class HostMirror final : public Subtree {
public:
    // `empty_dirs` are paths (relative to `host_root`) shown as empty directories where
    // the host has them (whatever is mounted there on the host).
    HostMirror(std::string host_root, std::vector<std::string> empty_dirs);

    int stat(const Context&, std::string_view path, NodeInfo& out) const override;
    int list(const Context&, std::string_view dir, std::vector<std::pair<std::string, NodeInfo>>& out) const override;
    int read(const Context&, std::string_view path, std::string& out) const override;
    int write(const Context&, std::string_view path, std::string_view data) const override;
    int readlink(const Context&, std::string_view path, std::string& out) const override;

private:
    bool is_empty_dir(std::string_view path) const;
    bool inside_empty_dir(std::string_view path) const;
    std::string host_path(std::string_view path) const;

    std::string host_root_;
    std::vector<std::string> empty_dirs_;
};

}  // namespace ecifs::handlers
