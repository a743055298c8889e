// The Prometheus text format 0.0.4: HELP and TYPE per family, escaped label values, histograms
// as cumulative _bucket lines with +Inf, then _sum and _count.
#include "common/metrics/exposition.h"

#include <charconv>
#include <cmath>
#include <stdexcept>

namespace quorate::metrics {
namespace {

bool nameChar(char c, bool first, bool colon) {
  const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
  if (alpha || (colon && c == ':')) return true;
  return !first && c >= '0' && c <= '9';
}

bool validName(std::string_view s, bool colon) {
  if (s.empty()) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (!nameChar(s[i], i == 0, colon)) return false;
  }
  return true;
}

void checkLabels(const Labels& labels, bool histogram) {
  for (std::size_t i = 0; i < labels.size(); ++i) {
    const auto& name = labels[i].first;
    if (!validLabelName(name) || (histogram && name == "le")) {
      throw std::logic_error("metrics: invalid label name \"" + name + "\"");
    }
    for (std::size_t j = 0; j < i; ++j) {
      if (labels[j].first == name) throw std::logic_error("metrics: label \"" + name + "\" twice");
    }
  }
}

void renderLabels(std::string& out, const Labels& labels, const std::string* le = nullptr) {
  if (labels.empty() && !le) return;
  out += '{';
  bool first = true;
  for (const auto& [name, value] : labels) {
    if (!first) out += ',';
    first = false;
    out += name;
    out += "=\"";
    out += escapeLabelValue(value);
    out += '"';
  }
  if (le) {
    if (!first) out += ',';
    out += "le=\"";
    out += *le;
    out += '"';
  }
  out += '}';
}

void renderSample(std::string& out, std::string_view name, const Labels& labels, double value,
                  const std::string* le = nullptr) {
  out += name;
  renderLabels(out, labels, le);
  out += ' ';
  out += formatValue(value);
  out += '\n';
}

const char* typeName(Type t) {
  switch (t) {
    case Type::kCounter:
      return "counter";
    case Type::kGauge:
      return "gauge";
    case Type::kHistogram:
      return "histogram";
  }
  return "untyped";
}

}  // namespace

bool validMetricName(std::string_view name) { return validName(name, true); }

bool validLabelName(std::string_view name) {
  return validName(name, false) && name.substr(0, 2) != "__";
}

std::string escapeLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string escapeHelp(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string formatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  // Plain decimals where they stay short ("0.0001", not "1e-04": bucket bounds are read by
  // people too), the shortest round-trip form elsewhere.
  char buf[64];
  const double magnitude = std::fabs(v);
  const bool plain = magnitude == 0 || (magnitude >= 1e-6 && magnitude < 1e15);
  const auto r = plain ? std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed)
                       : std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

Family::Family(std::string name, std::string help, Type type)
    : name_(std::move(name)), help_(std::move(help)), type_(type) {}

Family& Family::add(Labels labels, double value) {
  if (type_ == Type::kHistogram) throw std::logic_error("metrics: " + name_ + " is a histogram");
  checkLabels(labels, false);
  values_.emplace_back(std::move(labels), value);
  return *this;
}

Family& Family::add(Labels labels, const Histogram& value) {
  if (type_ != Type::kHistogram) throw std::logic_error("metrics: " + name_ + " not a histogram");
  checkLabels(labels, true);
  histograms_.emplace_back(std::move(labels), value);
  return *this;
}

void Family::render(std::string& out) const {
  out += "# HELP " + name_ + " " + escapeHelp(help_) + "\n";
  out += "# TYPE " + name_ + " " + typeName(type_) + "\n";
  for (const auto& [labels, value] : values_) renderSample(out, name_, labels, value);
  const std::string bucket = name_ + "_bucket";
  for (const auto& [labels, h] : histograms_) {
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < h.bounds().size(); ++i) {
      cumulative += h.counts()[i];
      const std::string le = formatValue(h.bounds()[i]);
      renderSample(out, bucket, labels, static_cast<double>(cumulative), &le);
    }
    cumulative += h.counts().back();
    const std::string inf = "+Inf";
    renderSample(out, bucket, labels, static_cast<double>(cumulative), &inf);
    renderSample(out, name_ + "_sum", labels, h.sum());
    renderSample(out, name_ + "_count", labels, static_cast<double>(cumulative));
  }
}

Family& Exposition::family(const std::string& name, const std::string& help, Type type) {
  if (!validMetricName(name)) throw std::logic_error("metrics: invalid name \"" + name + "\"");
  auto it = families_.find(name);
  if (it == families_.end()) it = families_.emplace(name, Family(name, help, type)).first;
  if (it->second.type() != type) {
    throw std::logic_error("metrics: " + name + " already has another type");
  }
  return it->second;
}

std::string Exposition::render() const {
  std::string out;
  for (const auto& [name, f] : families_) f.render(out);
  return out;
}

}  // namespace quorate::metrics
