package dev.backup.cluster;

/** Event-bus addresses shared by the manager and the servers. */
public final class Addresses {
  /** servers → manager: load reports (request; the reply lets the server time the round trip). */
  public static final String LOAD = "backup.manager.load";
  /** primary server → manager: all copies of a transfer are durable. */
  public static final String COMMITTED = "backup.manager.committed";

  private Addresses() {
  }

  /** manager → a primary server: expect this transfer and pass it down its chain. */
  public static String prepare(int serverId) {
    return "backup.server." + serverId + ".prepare";
  }
}
