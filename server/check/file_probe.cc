// The file probe (keepalived's FILE_CHECK): each attempt reads the file (file_weight.h), posted
// to the io_context so that `done` never runs from inside start().
#include <boost/asio/post.hpp>
#include <memory>
#include <string>
#include <utility>

#include "server/check/file_weight.h"
#include "server/check/probes_internal.h"

namespace quorate::server::check {
namespace {

class FileProbe : public Probe {
 public:
  FileProbe(std::string path, ProbeContext& ctx) : path_(std::move(path)), ctx_(ctx) {}

  void start(Done done) override {
    // The read is posted; a later start() or the probe's end makes it a no-op (the generation
    // changes, or the state is gone).
    const std::uint64_t generation = ++state_->generation;
    boost::asio::post(ctx_.io(), [weak = std::weak_ptr<State>(state_), generation, path = path_,
                                  done = std::move(done)] {
      const auto state = weak.lock();
      if (!state || state->generation != generation) return;
      done(readWeightFile(path));  // may destroy the probe: nothing of it is touched after
    });
  }

 private:
  struct State {
    std::uint64_t generation = 0;
  };
  std::string path_;
  ProbeContext& ctx_;
  std::shared_ptr<State> state_ = std::make_shared<State>();
};

}  // namespace

std::unique_ptr<Probe> makeFileProbe(const FileSpec& spec, ProbeContext& ctx) {
  return std::make_unique<FileProbe>(spec.path, ctx);
}

}  // namespace quorate::server::check
