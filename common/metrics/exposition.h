// Metric families (counters, gauges, histograms with label sets) and their Prometheus text
// exposition, format 0.0.4. No client library: a scrape builds an Exposition from a snapshot of
// the daemon's state and renders it; nothing here keeps state between scrapes.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/metrics/histogram.h"

namespace quorate::metrics {

using Labels = std::vector<std::pair<std::string, std::string>>;

enum class Type { kCounter, kGauge, kHistogram };

// One family: a name, its help text and type, and one sample per label set.
class Family {
 public:
  Family(std::string name, std::string help, Type type);

  // A counter or gauge sample. Throws std::logic_error when this family is a histogram, or a
  // label name is not valid (names are the program's own: that is a bug, not bad input).
  Family& add(Labels labels, double value);
  // A histogram sample ("le" is added per bucket). Throws std::logic_error when the family is
  // not a histogram, or a label is invalid or named "le".
  Family& add(Labels labels, const Histogram& value);

  const std::string& name() const { return name_; }
  Type type() const { return type_; }
  std::size_t size() const { return values_.size() + histograms_.size(); }
  // The family's lines: HELP, TYPE, then its samples in the order added.
  void render(std::string& out) const;

 private:
  std::string name_;
  std::string help_;
  Type type_;
  std::vector<std::pair<Labels, double>> values_;
  std::vector<std::pair<Labels, Histogram>> histograms_;
};

// A whole scrape: families by name, rendered sorted by name with one HELP and TYPE each.
class Exposition {
 public:
  // The family `name`, created on first use. Throws std::logic_error for an invalid name, or
  // when the family exists with another type.
  Family& family(const std::string& name, const std::string& help, Type type);
  Family& counter(const std::string& name, const std::string& help) {
    return family(name, help, Type::kCounter);
  }
  Family& gauge(const std::string& name, const std::string& help) {
    return family(name, help, Type::kGauge);
  }
  Family& histogram(const std::string& name, const std::string& help) {
    return family(name, help, Type::kHistogram);
  }
  std::string render() const;

 private:
  std::map<std::string, Family> families_;
};

// The content type of render()'s text.
inline constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";

// What the text format needs, exposed for tests.
bool validMetricName(std::string_view name);  // [a-zA-Z_:][a-zA-Z0-9_:]*
bool validLabelName(std::string_view name);   // [a-zA-Z_][a-zA-Z0-9_]*, not starting "__"
// A label value with \ " and newline escaped.
std::string escapeLabelValue(std::string_view value);
// HELP text with \ and newline escaped.
std::string escapeHelp(std::string_view text);
// A sample value: shortest round-trip decimal, "NaN", "+Inf", "-Inf".
std::string formatValue(double v);

}  // namespace quorate::metrics
