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

namespace {

// No message nests deeper than a map of arrays of maps. nlohmann's CBOR reader recurses
// once per level: a datagram of nested arrays (one byte each) would overflow the stack
// of the thread that decodes it, so the tree is built by a parser that stops there.
constexpr std::size_t max_depth = 16;

class BoundedDomParser : public nlohmann::detail::json_sax_dom_parser<Message> {
public:
    using json_sax_dom_parser::json_sax_dom_parser;
    bool start_object(std::size_t n) { return deeper() && json_sax_dom_parser::start_object(n); }
    bool start_array(std::size_t n) { return deeper() && json_sax_dom_parser::start_array(n); }
    bool end_object() { return --depth_, json_sax_dom_parser::end_object(); }
    bool end_array() { return --depth_, json_sax_dom_parser::end_array(); }
    bool too_deep() const { return too_deep_; }

private:
    bool deeper() {
        too_deep_ = ++depth_ > max_depth;
        return !too_deep_;
    }
    std::size_t depth_ = 0;
    bool too_deep_ = false;
};

}  // namespace

Message decode(std::string_view bytes) {
    Message message;
    BoundedDomParser parser(message);
    bool whole = false;
    try {
        // strict: bytes after the message are an error, not ignored.
        whole = Message::sax_parse(bytes.begin(), bytes.end(), &parser, nlohmann::json::input_format_t::cbor, /*strict=*/true);
    } catch (const nlohmann::json::exception& e) {
        throw WireError(fmt::format("malformed message: {}", e.what()));
    }
    if (parser.too_deep()) throw WireError(fmt::format("malformed message: nested deeper than {}", max_depth));
    if (!whole) throw WireError("malformed message");
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
