// The helpers' wire codec (sys/wire.cpp: one CBOR map per datagram) and the mount
// helper's messages over it (seccomp/mount_helper.cpp: decode_request, decode_reply).
// The input is one datagram. Whatever decodes must encode and decode to the same thing.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "seccomp/mount_helper.hpp"
#include "sys/wire.hpp"

namespace wire = ecifs::sys::wire;
namespace helper = ecifs::seccomp::mount_helper;

namespace {

void check(bool ok) {
    if (!ok) std::abort();
}

void codec(std::string_view bytes) {
    try {
        const wire::Message m = wire::decode(bytes);
        // Compared as bytes: a NaN is not equal to itself.
        const std::string once = wire::encode(m);
        check(wire::encode(wire::decode(once)) == once);
        // The accessors on whatever came, as the decoders use them.
        for (const auto& [key, value] : m.items()) {
            (void)wire::has(m, key);
            try { (void)wire::as_bytes(value, key); } catch (const wire::WireError&) {}
            try { (void)wire::as_text(value, key); } catch (const wire::WireError&) {}
            try { (void)wire::as_int<int32_t>(value, key); } catch (const wire::WireError&) {}
            try { (void)wire::as_int<uint64_t>(value, key); } catch (const wire::WireError&) {}
            try { (void)wire::as_bool(value, key); } catch (const wire::WireError&) {}
            try { (void)wire::as_array(value, key); } catch (const wire::WireError&) {}
        }
    } catch (const wire::WireError&) {
    }
}

void mount_helper_messages(std::string_view bytes) {
    std::string error;
    if (const auto request = helper::decode_request(bytes, &error))
        check(helper::decode_request(helper::encode(*request), nullptr) == *request);
    if (const auto reply = helper::decode_reply(bytes, &error))
        check(helper::decode_reply(helper::encode(*reply), nullptr) == *reply);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    const std::string_view bytes(reinterpret_cast<const char*>(data), size);
    codec(bytes);
    mount_helper_messages(bytes);
    return 0;
}
