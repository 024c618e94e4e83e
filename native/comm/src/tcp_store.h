// A gloo::rendezvous::Store over TCP: the client half of the rendezvous key
// store whose server is src/distributed/store.ts (hosted by rank 0). The Debian
// Gloo build ships FileStore, HashStore and RedisStore but no TCP store, and
// a shared folder or a Redis server is more than a two-machine job should
// need. Wire format (all integers little-endian u32):
//   request:  op(u8: 1 set, 2 get, 3 wait) nkeys  (klen key)*  vlen value
//   reply:    status(u8: 0 ok, 1 timeout) vlen value
// get and wait block on the server until the keys exist or the timeout ends.
#pragma once
#include <chrono>
#include <string>
#include <vector>
#include <gloo/rendezvous/store.h>

namespace b2comm {

class TcpStore : public gloo::rendezvous::Store {
 public:
  TcpStore(const std::string& host, int port, std::chrono::milliseconds timeout);
  ~TcpStore() override;
  void set(const std::string& key, const std::vector<char>& data) override;
  std::vector<char> get(const std::string& key) override;
  void wait(const std::vector<std::string>& keys) override { wait(keys, timeout_); }
  void wait(const std::vector<std::string>& keys, const std::chrono::milliseconds& timeout) override;

 private:
  std::vector<char> request(uint8_t op, const std::vector<std::string>& keys, const std::vector<char>& value, std::chrono::milliseconds timeout);
  void sendAll(const void* p, size_t n);
  void recvAll(void* p, size_t n, std::chrono::steady_clock::time_point deadline);
  int fd_ = -1;
  std::string where_;
  std::chrono::milliseconds timeout_;
};

}  // namespace b2comm
