package dev.backup.manager;

import dev.backup.placement.ServerLoad;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;

/**
 * What the manager knows of each storage server: address, last load report, and health.
 * A server is alive while it is a cluster member, its watch connection is open and it
 * has reported recently; suspected when its reports stop; dead when it left the cluster
 * or its connection broke. Plain and single-threaded.
 */
public final class ServerTable {
  /** unknown: not heard of since this manager started. */
  public enum Health { alive, suspected, dead, unknown }

  static final class Server {
    final int id;
    String node;
    String host;
    int port;
    long bytes;
    long files;
    long freeBytes;
    /** Damaged last copies it has set aside under damaged/ for salvage. */
    int damagedAside;
    int transfers;
    int foreground;
    long latencyMicros;
    long lastReport;
    boolean member = true;
    boolean watched;
    Health health = Health.suspected;
    /** While this server's inventory is wanted, the token it is asked for with; else null. */
    String inventoryWanted;
    /** When it last applied a reconciliation ({@link #now()}), 0 if never. */
    long inventoryAt;

    Server(int id) {
      this.id = id;
    }
  }

  /** A live server's inventory is asked for this often (as well as whenever it comes back). */
  public static final long INVENTORY_EVERY_MILLIS = 6 * 3600_000L;

  private final TreeMap<Integer, Server> servers = new TreeMap<>();
  private final long suspectAfterMillis;
  /** Tokens name this manager's run, so that one a server applied for a previous run never matches. */
  private final String run = java.util.UUID.randomUUID().toString();
  private long inventorySeq;
  private long firstReportAt;

  /**
   * The clock of servers' health and of healing, in milliseconds: it only goes forward, so
   * a step of the wall clock (set by hand, or by a time daemon) neither makes every server
   * look silent at once nor hides a hung one for as long as the step. Never 0 (0 means
   * "never" here), and far from it, so "a minute ago" stays positive.
   */
  public static long now() {
    return (System.nanoTime() - ORIGIN) / 1_000_000 + (1L << 40);
  }

  private static final long ORIGIN = System.nanoTime();

  public ServerTable(long suspectAfterMillis) {
    this.suspectAfterMillis = suspectAfterMillis;
  }

  /** Applies a load report; returns true when the server's health changed. */
  public boolean onReport(JsonObject r, boolean member, long now) {
    if (firstReportAt == 0) {
      firstReportAt = now;
    }
    int id = r.getInteger("id");
    Server s = servers.computeIfAbsent(id, Server::new);
    s.node = r.getString("node");
    s.member = member;
    s.host = r.getString("host");
    s.port = r.getInteger("port");
    // (A server that has just started reports no counts until it has counted its copies:
    // the last ones heard are kept meanwhile, not taken for an empty server's.)
    if (r.containsKey("bytes")) {
      s.bytes = r.getLong("bytes", 0L);
      s.files = r.getLong("files", 0L);
    }
    s.freeBytes = r.getLong("freeBytes", 0L);
    if (r.containsKey("damagedAside")) {
      s.damagedAside = r.getInteger("damagedAside");
    }
    s.transfers = r.getInteger("transfers", 0);
    s.foreground = r.getInteger("foreground", 0);
    if (!s.watched) {
      s.latencyMicros = r.getLong("latencyMicros", 0L);
    }
    s.lastReport = now;
    return update(s, now);
  }

  public void onWatch(int id, boolean open) {
    Server s = servers.get(id);
    if (s != null) {
      s.watched = open;
    }
  }

  public void onPing(int id, long micros, long now) {
    Server s = servers.get(id);
    if (s != null) {
      s.latencyMicros = micros;
      s.lastReport = Math.max(s.lastReport, now);
    }
  }

  /** Server {@code id} left the cluster; returns true when that changed its health. */
  public boolean onMemberRemoved(int id) {
    Server s = servers.get(id);
    if (s == null) {
      return false;
    }
    s.member = false;
    return update(s, Long.MIN_VALUE);
  }

  /** The watch connection of a server closed: it is dead until it reports again. */
  public boolean onWatchLost(int id) {
    Server s = servers.get(id);
    if (s == null) {
      return false;
    }
    s.watched = false;
    s.lastReport = 0;
    return update(s, Long.MIN_VALUE);
  }

  private long healthChanges;

  /** How many times so far some server's health changed. */
  public long healthChanges() {
    return healthChanges;
  }

  /** How often the manager calls {@link #tick}. */
  public static final long TICK_MILLIS = 250;
  private long lastTick;

  /**
   * Re-evaluates every server; returns the ids whose health changed. When the manager
   * itself was stalled (a long pause, a starved CPU), the servers' reports are waiting in
   * its queue: the stall is not counted against them, or every server would look silent
   * at once.
   */
  public List<Integer> tick(long now) {
    long stalled = lastTick == 0 ? 0 : now - lastTick - TICK_MILLIS;
    lastTick = now;
    if (stalled > TICK_MILLIS) {
      for (Server s : servers.values()) {
        if (s.lastReport > 0) {
          s.lastReport = Math.min(now, s.lastReport + stalled);
        }
      }
    }
    List<Integer> changed = new ArrayList<>();
    for (Server s : servers.values()) {
      if (update(s, now)) {
        changed.add(s.id);
      }
      if (s.health == Health.alive && s.inventoryWanted == null && s.inventoryAt > 0
          && now - s.inventoryAt >= INVENTORY_EVERY_MILLIS) {
        // Now and then, not only when it comes back: a copy lost while it ran is noticed.
        s.inventoryWanted = newToken();
      }
    }
    return changed;
  }

  private boolean update(Server s, long now) {
    Health h;
    if (!s.member || s.lastReport == 0) {
      h = Health.dead;
    } else if (now != Long.MIN_VALUE && now - s.lastReport > suspectAfterMillis) {
      h = Health.suspected;
    } else if (now == Long.MIN_VALUE) {
      h = s.health;
    } else {
      h = Health.alive;
    }
    boolean changed = h != s.health;
    s.health = h;
    if (changed) {
      healthChanges++;
    }
    if (changed && h == Health.alive) {
      // Back (or here for the first time): what it holds is compared with the catalog.
      s.inventoryWanted = newToken();
    }
    return changed;
  }

  /**
   * The token with which a live server is asked for its inventory (in the reply to each of
   * its load reports), until it reports that it applied the answer to one sent with that
   * token; null when nothing is wanted. Asking on every report, not once, means a lost message
   * only delays reconciliation.
   */
  public String inventoryWanted(int id) {
    Server s = servers.get(id);
    return s == null || s.health != Health.alive ? null : s.inventoryWanted;
  }

  /**
   * Server {@code id} should be reconciled again (a message to it was lost): returns the
   * order of the new request (see {@link #order}), -1 for a server not known here.
   */
  public long wantInventory(int id) {
    Server s = servers.get(id);
    if (s == null) {
      return -1;
    }
    s.inventoryWanted = newToken();
    return inventorySeq;
  }

  /** The order of the last inventory request made (0 before any): one asked for later has a greater order. */
  public long lastOrder() {
    return inventorySeq;
  }

  /** A new inventory request's token: this run's name and the request's order. */
  private String newToken() {
    return run + "/" + ++inventorySeq;
  }

  /**
   * The order in which this manager asked for inventories, of the request an inventory
   * answers ({@code token}); -1 for one asked by a previous run, or not asked.
   */
  public long order(String token) {
    if (token == null || !token.startsWith(run + "/")) {
      return -1;
    }
    try {
      return Long.parseLong(token.substring(run.length() + 1));
    } catch (NumberFormatException e) {
      return -1;
    }
  }

  /** Server {@code id} applied the reconciliation asked with {@code token}. */
  public void inventoryApplied(int id, String token) {
    Server s = servers.get(id);
    if (s != null && token != null && token.equals(s.inventoryWanted)) {
      s.inventoryWanted = null;
      s.inventoryAt = now();
    }
  }

  public Health health(int id) {
    Server s = servers.get(id);
    return s == null ? Health.unknown : s.health;
  }

  /** Counts a transfer just placed on a server, until its next report says otherwise. */
  public void addTransfer(int id) {
    Server s = servers.get(id);
    if (s != null) {
      s.transfers++;
    }
  }

  /** Whether any live server reported backups or restores in progress (heal copies then make way). */
  public boolean clientsBeingServed() {
    return servers.values().stream().anyMatch(s -> s.health == Health.alive && s.foreground > 0);
  }

  public List<ServerLoad> loads() {
    List<ServerLoad> out = new ArrayList<>();
    for (Server s : servers.values()) {
      out.add(new ServerLoad(s.id, s.host, s.port, s.health == Health.alive, s.bytes, s.files,
          s.freeBytes, s.transfers, s.latencyMicros));
    }
    return out;
  }

  /** When the first load report of any server reached this manager (as given to {@link #onReport}), or 0. */
  public long firstReportAt() {
    return firstReportAt;
  }

  /** The event-bus node of the process that last reported as server {@code id}, or null. */
  public String node(int id) {
    Server s = servers.get(id);
    return s == null ? null : s.node;
  }

  public String host(int id) {
    Server s = servers.get(id);
    return s == null ? null : s.host;
  }

  public int port(int id) {
    Server s = servers.get(id);
    return s == null ? 0 : s.port;
  }

  public boolean watched(int id) {
    Server s = servers.get(id);
    return s != null && s.watched;
  }

  /** SPEC's {@code status --json}. */
  public JsonObject toJson() {
    JsonArray arr = new JsonArray();
    for (Server s : servers.values()) {
      arr.add(new JsonObject().put("id", s.id).put("alive", s.health == Health.alive)
          .put("state", s.health.name()).put("bytes", s.bytes).put("files", s.files)
          .put("freeBytes", s.freeBytes).put("transfers", s.transfers).put("damagedAside", s.damagedAside)
          .put("latencyMicros", s.latencyMicros).put("host", s.host).put("port", s.port));
    }
    return new JsonObject().put("servers", arr);
  }
}
