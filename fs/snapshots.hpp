#pragma once
// The renderings a mount's open files hold (their snapshots, and the page cache's
// content made from them): one copy per distinct text, and a cap on the bytes held.
//
// A handle keeps the text it was opened with until it reads from offset 0 again, as a
// seq_file does, so every open handle could hold a copy of its file: 500 opens of
// /sys/kernel/btf/vmlinux (the host's, several MB) would hold GBs. Instead a rendering
// that is byte-equal to the live snapshot of the same inode shares it (a host-mirrored
// file is the host's bytes, equal for every open: 500 opens hold one copy), and a new
// text is kept only while the mount's total stays under the cap. Past the cap the
// handle keeps no snapshot and each READ renders the file again (see OpenFile).
#include <fuse_lowlevel.h>

#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "fs/page_cache.hpp"

namespace ecifs::fs {

class Snapshots {
public:
    // Enough for every view a container reads at once (the largest, /sys/kernel/btf/
    // vmlinux, is a few MB and shared), small next to a container's own memory.
    static constexpr size_t default_cap = 32u << 20;

    explicit Snapshots(size_t cap = default_cap);

    // `text` as a snapshot of `ino`: the live one if byte-equal, else a new one if the
    // cap allows it; null past the cap, and then `text` is left as it was.
    Content keep(fuse_ino_t ino, std::string&& text);
    // Bytes held by live snapshots.
    size_t held() const;

private:
    // Shared with each snapshot's deleter, which may run after the mount is gone.
    struct Books {
        std::mutex mutex;
        size_t held = 0;
        std::unordered_map<fuse_ino_t, std::weak_ptr<const std::string>> live;
    };
    struct Release {
        std::shared_ptr<Books> books;
        fuse_ino_t ino;
        void operator()(const std::string* text) const;
    };

    const size_t cap_;
    std::shared_ptr<Books> books_;
};

}  // namespace ecifs::fs
