#include "sys/wire.hpp"

#include <cstdint>
#include <vector>

#include <fmt/core.h>

namespace ecifs::sys::wire {

std::string encode(const Message& message) {
    std::string out;
    Message::to_cbor(message, nlohmann::detail::output_adapter<char>(out));
    return out;
}

Message decode(std::string_view bytes) {
    Message message;
    try {
        // strict: bytes after the message are an error, not ignored.
        message = Message::from_cbor(bytes.begin(), bytes.end(), /*strict=*/true);
    } catch (const nlohmann::json::exception& e) {
        throw WireError(fmt::format("malformed message: {}", e.what()));
    }
    if (!message.is_object()) throw WireError("malformed message: not a map");
    return message;
}

Message bytes(std::string_view data) {
    return Message::binary(std::vector<std::uint8_t>(data.begin(), data.end()));
}

void wrong(std::string_view what, std::string_view expected) {
    throw WireError(fmt::format("malformed message: {} is not {}", what, expected));
}

const Message& field(const Message& map, std::string_view key) {
    if (!map.is_object()) wrong("a part of the message", "a map");
    const auto it = map.find(std::string(key));  // (nlohmann_json 3.10 finds by std::string only)
    if (it == map.end()) throw WireError(fmt::format("malformed message: no {}", key));
    return *it;
}

bool has(const Message& map, std::string_view key) { return map.is_object() && map.contains(std::string(key)); }

std::string as_bytes(const Message& value, std::string_view what) {
    if (!value.is_binary()) wrong(what, "a byte string");
    const auto& data = value.get_binary();
    return std::string(data.begin(), data.end());
}

std::string as_text(const Message& value, std::string_view what) {
    if (!value.is_string()) wrong(what, "a text string");
    return value.get<std::string>();
}

bool as_bool(const Message& value, std::string_view what) {
    if (!value.is_boolean()) wrong(what, "a boolean");
    return value.get<bool>();
}

const Message& as_array(const Message& value, std::string_view what) {
    if (!value.is_array()) wrong(what, "an array");
    return value;
}

}  // namespace ecifs::sys::wire
