#pragma once
// The helpers' wire format (the namespace executors, the mount helper): one message, a
// CBOR map, per SOCK_SEQPACKET datagram (the kernel keeps a datagram whole, so no
// framing is needed). Text that may be any bytes (paths, a sysctl's content) travels as
// CBOR byte strings: CBOR text strings are meant to be UTF-8, paths need not be.
#include <concepts>
#include <limits>
#include <stdexcept>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace ecifs::sys::wire {

using Message = nlohmann::json;

// Malformed input: not CBOR, bytes after the message, not a map, a field missing, of
// another type or out of range. what() says which.
class WireError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

std::string encode(const Message& message);
// A map, or WireError.
Message decode(std::string_view bytes);

// `data` as a CBOR byte string.
Message bytes(std::string_view data);

// A field of a decoded map (or an element of an array, named `what` in errors); each
// throws WireError when it is missing or is not of the type asked for.
const Message& field(const Message& map, std::string_view key);
bool has(const Message& map, std::string_view key);
std::string as_bytes(const Message& value, std::string_view what);
std::string as_text(const Message& value, std::string_view what);  // a CBOR text string
bool as_bool(const Message& value, std::string_view what);
const Message& as_array(const Message& value, std::string_view what);
[[noreturn]] void wrong(std::string_view what, std::string_view expected);

template <std::integral T>
T as_int(const Message& value, std::string_view what) {
    if (value.is_number_unsigned()) {
        const auto n = value.get<uint64_t>();
        if (n <= static_cast<uint64_t>(std::numeric_limits<T>::max())) return static_cast<T>(n);
    } else if (value.is_number_integer()) {
        const auto n = value.get<int64_t>();
        if (std::numeric_limits<T>::is_signed && n >= static_cast<int64_t>(std::numeric_limits<T>::min()) &&
            n <= static_cast<int64_t>(std::numeric_limits<T>::max()))
            return static_cast<T>(n);
    }
    wrong(what, "an integer in range");
}

template <std::integral T>
T get_int(const Message& map, std::string_view key) {
    return as_int<T>(field(map, key), key);
}
inline std::string get_bytes(const Message& map, std::string_view key) { return as_bytes(field(map, key), key); }
inline std::string get_text(const Message& map, std::string_view key) { return as_text(field(map, key), key); }
inline bool get_bool(const Message& map, std::string_view key) { return as_bool(field(map, key), key); }
inline const Message& get_array(const Message& map, std::string_view key) { return as_array(field(map, key), key); }

}  // namespace ecifs::sys::wire
