#pragma once
// One container's emulated sysctl values: path (relative to /proc/sys) → the text a read
// shows, as validate_write() rendered it. A path not in the store still shows the host's
// value. Thread-safe. The daemon keeps the values on disk through persist_with().
#include <functional>
#include <map>
#include <optional>
#include <shared_mutex>
#include <string>

namespace ecifs::sysctl {

class Store {
public:
    std::optional<std::string> get(const std::string& path) const;
    void set(const std::string& path, std::string value);
    // The stored value, or `make()` stored now: one value for the store's life even
    // when two readers race (kernel.random.boot_id, DMI product_uuid).
    std::string get_or_insert(const std::string& path, const std::function<std::string()>& make);
    std::map<std::string, std::string> snapshot() const;

    // Take `values` (from disk) in place of any, and from now on call `save` with every
    // value after each change, before the change returns (a write is acknowledged once
    // it is kept). The calls are made one at a time, in the order of the changes.
    using Saver = std::function<void(const std::map<std::string, std::string>&)>;
    void persist_with(std::map<std::string, std::string> values, Saver save);

private:
    mutable std::shared_mutex mutex_;
    std::map<std::string, std::string> values_;
    Saver save_;
};

}  // namespace ecifs::sysctl
