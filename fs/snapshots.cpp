#include "fs/snapshots.hpp"

namespace ecifs::fs {

Snapshots::Snapshots(size_t cap) : cap_(cap), books_(std::make_shared<Books>()) {}

Content Snapshots::keep(fuse_ino_t ino, std::string&& text) {
    Content live;  // released after the lock: it may be the last reference
    std::lock_guard lock(books_->mutex);
    auto& slot = books_->live[ino];
    live = slot.lock();
    if (live && *live == text) return live;
    if (books_->held + text.size() > cap_) {
        if (!live) books_->live.erase(ino);
        return nullptr;
    }
    books_->held += text.size();
    Content kept(new std::string(std::move(text)), Release{books_, ino});
    slot = kept;
    return kept;
}

size_t Snapshots::held() const {
    std::lock_guard lock(books_->mutex);
    return books_->held;
}

// The last reference went: its bytes are no longer held, and the inode's slot goes
// unless a newer snapshot took it.
void Snapshots::Release::operator()(const std::string* text) const {
    {
        std::lock_guard lock(books->mutex);
        books->held -= text->size();
        auto it = books->live.find(ino);
        if (it != books->live.end() && it->second.expired()) books->live.erase(it);
    }
    delete text;
}

}  // namespace ecifs::fs
