// quorate-test-http: the real servers' web server for the VM load-balancing tests. A tiny
// HTTP/1.1 server: one thread per connection, keep-alive, every request answered with 200 and
// the body "<name>\n", so a client sees which real server answered.
//
//   quorate-test-http NAME [PORT]      listens on 0.0.0.0:PORT (default 80)
//
// Requests are read up to the blank line; a Content-Length body is read and dropped.
// "Connection: close" (or HTTP/1.0 without keep-alive) closes after the answer. It prints
// "listening" once the socket listens and runs until killed.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// The value of header `name` (lower case) in `head`, or "".
std::string header(const std::string& head, const std::string& name) {
  const std::string l = lower(head);
  const std::string key = "\r\n" + name + ":";
  const auto at = l.find(key);
  if (at == std::string::npos) return "";
  auto begin = at + key.size();
  const auto end = l.find("\r\n", begin);
  while (begin < end && (l[begin] == ' ' || l[begin] == '\t')) ++begin;
  return l.substr(begin, end - begin);
}

bool sendAll(int fd, const std::string& data) {
  std::size_t sent = 0;
  while (sent < data.size()) {
    const ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    sent += static_cast<std::size_t>(n);
  }
  return true;
}

void serve(int fd, const std::string& body) {
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  std::string buf;
  char chunk[4096];
  for (;;) {
    std::size_t end;
    while ((end = buf.find("\r\n\r\n")) == std::string::npos) {
      if (buf.size() > 65536) {
        ::close(fd);
        return;
      }
      const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        ::close(fd);
        return;
      }
      buf.append(chunk, static_cast<std::size_t>(n));
    }
    const std::string head = buf.substr(0, end + 2);  // keeps the last header's "\r\n"
    buf.erase(0, end + 4);
    // The body, if any, is read and dropped.
    std::size_t length = 0;
    if (const auto cl = header(head, "content-length"); !cl.empty()) {
      length = std::strtoull(cl.c_str(), nullptr, 10);
    }
    while (buf.size() < length) {
      const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        ::close(fd);
        return;
      }
      buf.append(chunk, static_cast<std::size_t>(n));
    }
    buf.erase(0, length);
    const std::string line = head.substr(0, head.find("\r\n"));
    const std::string connection = header(head, "connection");
    const bool http10 = line.size() >= 8 && line.compare(line.size() - 8, 8, "HTTP/1.0") == 0;
    const bool close = connection == "close" || (http10 && connection != "keep-alive");
    std::string reply = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " +
                        std::to_string(body.size()) + "\r\n";
    reply += close ? "Connection: close\r\n" : "Connection: keep-alive\r\n";
    reply += "\r\n" + body;
    if (!sendAll(fd, reply) || close) {
      ::close(fd);
      return;
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3) {
    std::fprintf(stderr, "usage: %s NAME [PORT]\n", argv[0]);
    return 2;
  }
  const std::string body = std::string(argv[1]) + "\n";
  const int port = argc == 3 ? std::atoi(argv[2]) : 80;
  ::signal(SIGPIPE, SIG_IGN);
  const int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) {
    std::perror("socket");
    return 1;
  }
  const int one = 1;
  ::setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_ANY);
  if (::bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    std::perror("bind");
    return 1;
  }
  if (::listen(s, 1024) != 0) {
    std::perror("listen");
    return 1;
  }
  std::printf("listening on 0.0.0.0:%d as %s\n", port, argv[1]);
  std::fflush(stdout);
  for (;;) {
    const int c = ::accept4(s, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) {
      if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE || errno == ENFILE) {
        if (errno == EMFILE || errno == ENFILE) ::usleep(10'000);
        continue;
      }
      std::perror("accept");
      return 1;
    }
    std::thread(serve, c, body).detach();
  }
}
