// TCP client of the rendezvous store (see tcp_store.h). Blocking sockets with
// poll(2) deadlines: every call ends by the timeout with an error that names
// the store address, never a hang.
#include "tcp_store.h"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <thread>

namespace b2comm {

using Clock = std::chrono::steady_clock;

static int connectOnce(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  std::string portStr = std::to_string(port);
  if (getaddrinfo(host.c_str(), portStr.c_str(), &hints, &res) != 0) return -1;
  int fd = -1;
  for (addrinfo* ai = res; ai; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
    if (fd < 0) continue;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) break;
    close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  return fd;
}

TcpStore::TcpStore(const std::string& host, int port, std::chrono::milliseconds timeout)
    : where_(host + ":" + std::to_string(port)), timeout_(timeout) {
  // the server (rank 0) may not be listening yet: retry until the timeout
  auto deadline = Clock::now() + timeout;
  while ((fd_ = connectOnce(host, port)) < 0) {
    if (Clock::now() >= deadline)
      throw std::runtime_error("rendezvous store " + where_ + ": no answer within " + std::to_string(timeout.count() / 1000) + " s (is rank 0 running, and MASTER_ADDR/MASTER_PORT right?)");
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

TcpStore::~TcpStore() {
  if (fd_ >= 0) close(fd_);
}

void TcpStore::sendAll(const void* p, size_t n) {
  const char* c = static_cast<const char*>(p);
  while (n) {
    ssize_t k = ::send(fd_, c, n, MSG_NOSIGNAL);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) throw std::runtime_error("rendezvous store " + where_ + ": send failed (" + std::strerror(errno) + ")");
    c += k;
    n -= static_cast<size_t>(k);
  }
}

void TcpStore::recvAll(void* p, size_t n, Clock::time_point deadline) {
  char* c = static_cast<char*>(p);
  while (n) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) throw std::runtime_error("rendezvous store " + where_ + ": timed out");
    pollfd pfd{fd_, POLLIN, 0};
    int r = poll(&pfd, 1, static_cast<int>(left));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) continue;  // loop re-checks the deadline
    ssize_t k = ::recv(fd_, c, n, 0);
    if (k < 0 && errno == EINTR) continue;
    if (k == 0) throw std::runtime_error("rendezvous store " + where_ + ": connection closed by the server (rank 0 exited?)");
    if (k < 0) throw std::runtime_error("rendezvous store " + where_ + ": receive failed (" + std::strerror(errno) + ")");
    c += k;
    n -= static_cast<size_t>(k);
  }
}

static void putU32(std::vector<char>& b, uint32_t v) {
  for (int i = 0; i < 4; i++) b.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

std::vector<char> TcpStore::request(uint8_t op, const std::vector<std::string>& keys, const std::vector<char>& value, std::chrono::milliseconds timeout) {
  std::vector<char> msg;
  msg.push_back(static_cast<char>(op));
  putU32(msg, static_cast<uint32_t>(keys.size()));
  for (const auto& k : keys) {
    putU32(msg, static_cast<uint32_t>(k.size()));
    msg.insert(msg.end(), k.begin(), k.end());
  }
  putU32(msg, static_cast<uint32_t>(value.size()));
  msg.insert(msg.end(), value.begin(), value.end());
  // the server's own wait ends at the timeout; ours allows a margin for the reply
  putU32(msg, static_cast<uint32_t>(timeout.count()));
  sendAll(msg.data(), msg.size());
  auto deadline = Clock::now() + timeout + std::chrono::seconds(5);
  unsigned char head[5];
  recvAll(head, 5, deadline);
  uint32_t len = head[1] | (head[2] << 8) | (head[3] << 16) | (static_cast<uint32_t>(head[4]) << 24);
  std::vector<char> out(len);
  if (len) recvAll(out.data(), len, deadline);
  if (head[0] != 0) {
    std::string which;
    for (const auto& k : keys) which += (which.empty() ? "" : ", ") + k;
    throw std::runtime_error("rendezvous store " + where_ + ": timed out after " + std::to_string(timeout.count() / 1000) + " s waiting for " + which + " (a rank did not start or died)");
  }
  return out;
}

void TcpStore::set(const std::string& key, const std::vector<char>& data) {
  request(1, {key}, data, timeout_);
}

std::vector<char> TcpStore::get(const std::string& key) {
  return request(2, {key}, {}, timeout_);
}

void TcpStore::wait(const std::vector<std::string>& keys, const std::chrono::milliseconds& timeout) {
  request(3, keys, {}, timeout);
}

}  // namespace b2comm
