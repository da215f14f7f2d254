package dev.backup.protocol;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.net.NetClient;
import io.vertx.core.net.NetSocket;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;

/**
 * Connections to storage servers kept open between transfers, so that many small files do
 * not pay a TCP (and TLS) handshake each. A connection carries one transfer at a time:
 * whoever {@link #acquire}s it owns it (and sets its handlers) until it gives it back with
 * {@link #release} after a clean end, or closes it after anything else. An idle connection
 * that the peer closes, that receives a byte, or that stays idle longer than
 * {@code maxIdleMs} (kept well below the servers' idle timeout) is closed and forgotten.
 * Not thread-safe: used from one Vert.x context.
 */
public final class ConnectionPool {
  private final Vertx vertx;
  private final NetClient client;
  private final long maxIdleMs;
  private final int maxIdlePerPeer;
  private final Map<String, ArrayDeque<NetSocket>> idle = new HashMap<>();
  private final Map<NetSocket, Long> timers = new HashMap<>();
  private long reused;
  private long opened;

  public ConnectionPool(Vertx vertx, NetClient client, long maxIdleMs, int maxIdlePerPeer) {
    this.vertx = vertx;
    this.client = client;
    this.maxIdleMs = maxIdleMs;
    this.maxIdlePerPeer = maxIdlePerPeer;
  }

  private static String key(String host, int port) {
    return host + ":" + port;
  }

  /** An idle connection to {@code host:port}, or a new one. */
  public Future<NetSocket> acquire(String host, int port) {
    ArrayDeque<NetSocket> q = idle.get(key(host, port));
    NetSocket sock = q == null ? null : q.pollLast();
    if (sock != null) {
      Long t = timers.remove(sock);
      if (t != null) {
        vertx.cancelTimer(t);
      }
      reused++;
      sock.handler(null);
      sock.closeHandler(null);
      return Future.succeededFuture(sock);
    }
    opened++;
    return client.connect(port, host);
  }

  /** Gives a connection whose transfer ended cleanly back for the next one. */
  public void release(String host, int port, NetSocket sock) {
    String k = key(host, port);
    ArrayDeque<NetSocket> q = idle.computeIfAbsent(k, x -> new ArrayDeque<>());
    if (q.size() >= maxIdlePerPeer) {
      sock.close();
      return;
    }
    q.addLast(sock);
    Runnable forget = () -> {
      if (q.remove(sock)) {
        Long t = timers.remove(sock);
        if (t != null) {
          vertx.cancelTimer(t);
        }
        sock.close();
      }
    };
    // Nothing may arrive on an idle connection: a byte means the peer is confused.
    sock.drainHandler(null);
    sock.handler(b -> forget.run());
    sock.closeHandler(v -> forget.run());
    sock.exceptionHandler(t -> forget.run());
    sock.resume();
    timers.put(sock, vertx.setTimer(maxIdleMs, t -> {
      timers.remove(sock);
      forget.run();
    }));
  }

  /** Closes every idle connection. */
  public void closeIdle() {
    for (ArrayDeque<NetSocket> q : idle.values()) {
      for (NetSocket s : q) {
        s.close();
      }
      q.clear();
    }
    timers.values().forEach(vertx::cancelTimer);
    timers.clear();
  }

  /** Connections handed out again rather than opened. */
  public long reused() {
    return reused;
  }

  /** Connections opened. */
  public long opened() {
    return opened;
  }
}
