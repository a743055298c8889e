// quoratectl genhash: the URL parsed, the host resolved, one GET through the http probe's own
// code (server/check/http_fetch.h), the digest printed.
#include "client/genhash.h"

#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <cctype>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>

#include "client/commands.h"
#include "client/endpoint.h"
#include "common/net_types.h"
#include "server/check/digest.h"
#include "server/check/http_fetch.h"
#include "server/check/probe.h"
#include "server/script_runner.h"

namespace quorate::client {
namespace {

namespace check = server::check;

bool startsWithNoCase(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() &&
         std::equal(prefix.begin(), prefix.end(), text.begin(), [](char lower, char c) {
           return std::tolower(static_cast<unsigned char>(c)) == lower;
         });
}

// The host's first address: numeric as is, a name through getaddrinfo.
std::optional<net::IpAddress> resolve(const std::string& host, std::string* error) {
  if (auto address = net::IpAddress::parse(host)) return address;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (const int rc = getaddrinfo(host.c_str(), nullptr, &hints, &found); rc != 0) {
    *error = "cannot resolve " + host + ": " + gai_strerror(rc);
    return std::nullopt;
  }
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> owner(found, &freeaddrinfo);
  net::IpAddress address;
  if (found->ai_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(found->ai_addr);
    address.family = AF_INET;
    std::memcpy(address.bytes.data(), &in->sin_addr, 4);
  } else {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(found->ai_addr);
    address.family = AF_INET6;
    std::memcpy(address.bytes.data(), &in6->sin6_addr, 16);
  }
  return address;
}

}  // namespace

std::optional<Url> parseUrl(std::string_view text, std::string* error) {
  Url url;
  if (startsWithNoCase(text, "http://")) {
    text.remove_prefix(7);
  } else if (startsWithNoCase(text, "https://")) {
    text.remove_prefix(8);
    url.tls = true;
  } else {
    *error = "the URL must start with http:// or https://";
    return std::nullopt;
  }
  text = text.substr(0, text.find('#'));
  const std::size_t pathAt = text.find_first_of("/?");
  std::string authority(text.substr(0, pathAt));
  url.path = pathAt == std::string_view::npos ? "/" : std::string(text.substr(pathAt));
  if (url.path.front() == '?') url.path.insert(0, "/");
  if (std::any_of(url.path.begin(), url.path.end(),
                  [](unsigned char c) { return c <= ' ' || c == 0x7f; })) {
    *error = "the path has spaces or control characters (percent-encode them)";
    return std::nullopt;
  }
  if (authority.find('@') != std::string::npos) {
    *error = "user names in URLs are not supported";
    return std::nullopt;
  }
  const bool hasPort = !authority.empty() && authority.front() == '['
                           ? authority.find("]:") != std::string::npos
                           : authority.find(':') != std::string::npos;
  if (!hasPort) authority += url.tls ? ":443" : ":80";
  std::string endpointError;
  const std::optional<Endpoint> endpoint = parseEndpoint(authority, &endpointError);
  if (!endpoint) {
    *error = endpointError;
    return std::nullopt;
  }
  url.host = endpoint->host;
  url.port = endpoint->port;
  return url;
}

int runGenhash(const GenhashOptions& options, std::chrono::milliseconds timeout, std::ostream& out,
               std::ostream& err) {
  std::string error;
  const std::optional<Url> url = parseUrl(options.url, &error);
  if (!url) {
    err << "quoratectl genhash: --url " << options.url << ": " << error << std::endl;
    return kExitUsage;
  }
  const std::optional<net::IpAddress> address = resolve(url->host, &error);
  if (!address) {
    err << "quoratectl genhash: " << error << std::endl;
    return kExitFailure;
  }
  const bool isName = !net::IpAddress::parse(url->host);

  check::HttpSpec spec;
  spec.path = url->path;
  spec.tls = url->tls;
  spec.verify = options.verify;
  spec.caFile = options.caFile;
  spec.sni = !options.sni.empty() || !isName || !url->tls ? options.sni : url->host;
  spec.virtualHost = options.virtualHost;
  if (spec.virtualHost.empty() && isName) {
    spec.virtualHost = url->host;
    if (url->port != (url->tls ? 443 : 80)) spec.virtualHost += ":" + std::to_string(url->port);
  }

  boost::asio::io_context io;
  server::ScriptRunner scripts(io);
  check::ProbeContext ctx(io, scripts);
  std::unique_ptr<check::HttpFetch> fetch =
      check::makeHttpFetch(spec, check::Target{*address, url->port, {}}, timeout, ctx, true);
  std::optional<check::HttpReply> reply;
  fetch->start([&](check::HttpReply result) { reply = std::move(result); });
  while (!reply && io.run_one() > 0) {
  }
  if (!reply || !reply->ok) {
    err << "quoratectl genhash: " << options.url << ": "
        << (reply ? reply->error : std::string("no reply")) << std::endl;
    return kExitFailure;
  }

  const std::optional<std::string>& digest = reply->md5;
  if (!digest) {
    err << "quoratectl genhash: " << check::kMd5Unavailable << std::endl;
    return kExitFailure;
  }
  const std::string& md5 = *digest;
  if (options.json) {
    out << nlohmann::json{{"url", options.url},        {"address", address->toString()},
                          {"port", url->port},         {"status", reply->status},
                          {"bytes", reply->bodyBytes}, {"md5", md5}}
               .dump()
        << std::endl;
  } else {
    out << "URL = " << options.url << "\n"
        << "HTTP status = " << reply->status << "\n"
        << "Body length = " << reply->bodyBytes << "\n"
        << "MD5SUM = " << md5 << std::endl;
  }
  return kExitOk;
}

}  // namespace quorate::client
