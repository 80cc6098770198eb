#pragma once
// The daemon's stats reply (ecifsctl stats) as Prometheus' text exposition format, for
// node_exporter's textfile collector: `ecifsctl stats --prometheus > DIR/ecifs.prom.tmp
// && mv DIR/ecifs.prom.tmp DIR/ecifs.prom`. No HTTP server in the daemon.
#include <string>

#include <nlohmann/json.hpp>

namespace ecifs::control {

// Throws std::invalid_argument when `stats` is not a stats reply.
std::string prometheus_text(const nlohmann::json& stats);

}  // namespace ecifs::control
