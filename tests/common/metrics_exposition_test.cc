// The Prometheus text format of common/metrics: HELP/TYPE, escaping, value spelling, sorted
// families, cumulative histogram buckets; golden strings built from the library's own input.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <stdexcept>

#include "common/metrics/exposition.h"
#include "common/metrics/histogram.h"

namespace quorate::metrics {
namespace {

TEST(MetricsExposition, CounterAndGaugeWithLabels) {
  Exposition e;
  e.counter("quorate_elections_total", "Campaign rounds by outcome.")
      .add({{"cluster", "c1"}, {"outcome", "won"}}, 3)
      .add({{"cluster", "c1"}, {"outcome", "lost"}}, 0);
  e.gauge("quorate_lease_epoch", "Epoch.").add({{"cluster", "c1"}, {"lease", "default"}}, 42);
  EXPECT_EQ(e.render(),
            "# HELP quorate_elections_total Campaign rounds by outcome.\n"
            "# TYPE quorate_elections_total counter\n"
            "quorate_elections_total{cluster=\"c1\",outcome=\"won\"} 3\n"
            "quorate_elections_total{cluster=\"c1\",outcome=\"lost\"} 0\n"
            "# HELP quorate_lease_epoch Epoch.\n"
            "# TYPE quorate_lease_epoch gauge\n"
            "quorate_lease_epoch{cluster=\"c1\",lease=\"default\"} 42\n");
}

TEST(MetricsExposition, FamiliesSortedAndOneTypeLineEach) {
  Exposition e;
  e.gauge("zeta", "z").add({}, 1);
  e.gauge("alpha", "a").add({{"k", "1"}}, 1);
  e.gauge("zeta", "z").add({{"k", "2"}}, 2);  // the same family again: no second TYPE
  const std::string text = e.render();
  EXPECT_LT(text.find("# TYPE alpha"), text.find("# TYPE zeta"));
  EXPECT_EQ(text.find("# TYPE zeta"), text.rfind("# TYPE zeta"));
  EXPECT_NE(text.find("zeta 1\nzeta{k=\"2\"} 2\n"), std::string::npos) << text;
}

TEST(MetricsExposition, LabelValuesAndHelpAreEscaped) {
  EXPECT_EQ(escapeLabelValue("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
  EXPECT_EQ(escapeHelp("one \\ two\nthree \"q\""), "one \\\\ two\\nthree \"q\"");
  Exposition e;
  e.gauge("g", "line one\nline \\ two").add({{"path", "C:\\x \"y\"\nz"}}, 1);
  EXPECT_EQ(e.render(),
            "# HELP g line one\\nline \\\\ two\n"
            "# TYPE g gauge\n"
            "g{path=\"C:\\\\x \\\"y\\\"\\nz\"} 1\n");
}

TEST(MetricsExposition, ValuesSpelledAsPrometheusReadsThem) {
  EXPECT_EQ(formatValue(std::numeric_limits<double>::quiet_NaN()), "NaN");
  EXPECT_EQ(formatValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(formatValue(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(formatValue(0), "0");
  EXPECT_EQ(formatValue(1.5), "1.5");
  EXPECT_EQ(formatValue(0.0001), "0.0001");
  EXPECT_EQ(formatValue(123456789), "123456789");
  // Round-trips: what is printed reads back as the same double.
  for (double v : {0.1, 1.0 / 3, 2.5e-7, 1e300}) EXPECT_EQ(std::stod(formatValue(v)), v);
}

TEST(MetricsExposition, HistogramBucketsAreCumulativeWithInfSumAndCount) {
  Histogram h({0.1, 1, 10});
  for (double v : {0.05, 0.1, 0.5, 2.0, 2.0, 50.0}) h.observe(v);
  EXPECT_EQ(h.counts(), (std::vector<std::uint64_t>{2, 1, 2, 1}));
  EXPECT_EQ(h.count(), 6u);
  Exposition e;
  e.histogram("quorate_x_seconds", "X.").add({{"lease", "l"}}, h);
  EXPECT_EQ(e.render(),
            "# HELP quorate_x_seconds X.\n"
            "# TYPE quorate_x_seconds histogram\n"
            "quorate_x_seconds_bucket{lease=\"l\",le=\"0.1\"} 2\n"
            "quorate_x_seconds_bucket{lease=\"l\",le=\"1\"} 3\n"
            "quorate_x_seconds_bucket{lease=\"l\",le=\"10\"} 5\n"
            "quorate_x_seconds_bucket{lease=\"l\",le=\"+Inf\"} 6\n"
            "quorate_x_seconds_sum{lease=\"l\"} " +
                formatValue(0.05 + 0.1 + 0.5 + 2.0 + 2.0 + 50.0) +
                "\n"
                "quorate_x_seconds_count{lease=\"l\"} 6\n");
}

TEST(MetricsExposition, EmptyHistogramStillHasEveryBucket) {
  Exposition e;
  e.histogram("h", "H.").add({}, Histogram({1}));
  EXPECT_EQ(e.render(),
            "# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"1\"} 0\nh_bucket{le=\"+Inf\"} 0\n"
            "h_sum 0\nh_count 0\n");
}

TEST(MetricsExposition, AtomicHistogramSnapshotMatchesPlainOne) {
  AtomicHistogram a({0.001, 0.01});
  Histogram p({0.001, 0.01});
  for (double v : {0.0005, 0.005, 0.005, 0.5}) {
    a.observe(v);
    p.observe(v);
  }
  const Histogram s = a.snapshot();
  EXPECT_EQ(s.counts(), p.counts());
  EXPECT_DOUBLE_EQ(s.sum(), p.sum());
  EXPECT_EQ(s.bounds(), p.bounds());
}

TEST(MetricsExposition, BadNamesAndMisuseAreRefused) {
  EXPECT_TRUE(validMetricName("quorate_lease:epoch"));
  EXPECT_FALSE(validMetricName("9lives"));
  EXPECT_FALSE(validMetricName("bad-name"));
  EXPECT_FALSE(validMetricName(""));
  EXPECT_TRUE(validLabelName("lease"));
  EXPECT_FALSE(validLabelName("__reserved"));
  EXPECT_FALSE(validLabelName("a:b"));
  Exposition e;
  EXPECT_THROW(e.gauge("bad-name", "x"), std::logic_error);
  e.gauge("g", "x");
  EXPECT_THROW(e.counter("g", "x"), std::logic_error);  // one TYPE per family
  EXPECT_THROW(e.gauge("g", "x").add({{"bad label", "v"}}, 1), std::logic_error);
  EXPECT_THROW(e.gauge("g", "x").add({{"k", "1"}, {"k", "2"}}, 1), std::logic_error);
  EXPECT_THROW(e.gauge("g", "x").add({}, Histogram({1})), std::logic_error);
  EXPECT_THROW(e.histogram("h", "x").add({{"le", "1"}}, Histogram({1})), std::logic_error);
  EXPECT_THROW(e.histogram("h", "x").add({}, 1.0), std::logic_error);
  EXPECT_THROW(Histogram({2, 1}), std::invalid_argument);
  EXPECT_THROW(Histogram({1, std::numeric_limits<double>::infinity()}), std::invalid_argument);
}

}  // namespace
}  // namespace quorate::metrics
