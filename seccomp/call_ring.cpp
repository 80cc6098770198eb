#include "seccomp/call_ring.hpp"

#include <seccomp.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <system_error>

namespace ecifs::seccomp {

namespace {

constexpr std::size_t ring_size = CallRing::slots * CallRing::slot_size;
static_assert(CallRing::slot_size >= notification_size && CallRing::slot_size % 8 == 0);

uint64_t id_in(const std::byte* slot) {
    uint64_t id;
    std::memcpy(&id, slot, sizeof id);  // struct seccomp_notif begins with its id
    return id;
}

[[noreturn]] void fail(const char* what) { throw std::system_error(errno, std::generic_category(), what); }

}  // namespace

sys::Fd CallRing::create() {
    sys::Fd fd(::memfd_create("ecifs-trapped-calls", MFD_CLOEXEC));
    if (!fd) fail("memfd_create");
    if (::ftruncate(fd.get(), static_cast<off_t>(ring_size)) != 0) fail("ftruncate");
    return fd;
}

CallRing::CallRing(int memfd) {
    struct stat st {};
    if (::fstat(memfd, &st) != 0) fail("fstat");
    if (static_cast<std::size_t>(st.st_size) != ring_size) throw std::invalid_argument("not a ring of trapped calls");
    void* base = ::mmap(nullptr, ring_size, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
    if (base == MAP_FAILED) fail("mmap");
    base_ = static_cast<std::byte*>(base);
}

CallRing::~CallRing() { ::munmap(base_, ring_size); }

std::byte* CallRing::free_slot_locked() const {
    for (std::size_t i = 0; i < slots; ++i)
        if (id_in(slot(i)) == 0) return slot(i);
    return nullptr;
}

int CallRing::receive(int notify_fd, Notification& out) {
    std::lock_guard lock(mutex_);
    std::byte* free = free_slot_locked();
    return free ? receive_into(notify_fd, free, out) : seccomp::receive(notify_fd, out);
}

void CallRing::keep(const Notification& n) {
    std::lock_guard lock(mutex_);
    for (std::size_t i = 0; i < slots; ++i)
        if (id_in(slot(i)) == n.id) return;
    std::byte* free = free_slot_locked();
    if (!free) return;
    seccomp_notif call{};
    call.pid = static_cast<uint32_t>(n.pid);
    call.data.nr = n.nr;
    call.data.arch = n.arch;
    std::copy(std::begin(n.args), std::end(n.args), std::begin(call.data.args));
    // The id last: a daemon killed in the middle leaves a free slot, not half a call.
    std::memcpy(free + sizeof call.id, reinterpret_cast<const std::byte*>(&call) + sizeof call.id,
                sizeof call - sizeof call.id);
    std::memcpy(free, &n.id, sizeof n.id);
}

void CallRing::release(uint64_t id) {
    std::lock_guard lock(mutex_);
    for (std::size_t i = 0; i < slots; ++i)
        if (id_in(slot(i)) == id) std::memset(slot(i), 0, slot_size);
}

std::vector<Notification> CallRing::held() const {
    std::lock_guard lock(mutex_);
    std::vector<Notification> out;
    for (std::size_t i = 0; i < slots; ++i)
        if (id_in(slot(i)) != 0) out.push_back(notification_in(slot(i)));
    return out;
}

}  // namespace ecifs::seccomp
