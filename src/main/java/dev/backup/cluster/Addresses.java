package dev.backup.cluster;

/** Event-bus addresses shared by the manager and the servers. */
public final class Addresses {
  /** Every address of the manager starts so. */
  public static final String MANAGER_PREFIX = "backup.manager.";
  /** Every address of server N starts with this, then N and a dot. */
  public static final String SERVER_PREFIX = "backup.server.";
  /** servers → manager: load reports (request; the reply lets the server time the round trip). */
  public static final String LOAD = MANAGER_PREFIX + "load";
  /** primary server → manager: all copies of a transfer are durable. */
  public static final String COMMITTED = MANAGER_PREFIX + "committed";
  /** primary server → manager: a transfer failed; any copy of its version is garbage. */
  public static final String ABORTED = MANAGER_PREFIX + "aborted";
  /** server → manager: a scrub found a copy whose bytes no longer match its checksum. */
  public static final String BAD_COPY = MANAGER_PREFIX + "bad-copy";
  /**
   * server → manager: every copy this server holds, sent when the reply to a load report
   * asks for it; the reply names the copies to remove (reconciliation).
   */
  public static final String INVENTORY = MANAGER_PREFIX + "inventory";

  private Addresses() {
  }

  /** manager → server: remove these copies. */
  public static String delete(int serverId) {
    return SERVER_PREFIX + serverId + ".delete";
  }

  /** manager → server: re-read these copies and compare their checksums. */
  public static String verify(int serverId) {
    return SERVER_PREFIX + serverId + ".verify";
  }

  /** manager → server: send a copy of a replica you hold to another server. */
  public static String copy(int serverId) {
    return SERVER_PREFIX + serverId + ".copy";
  }

  /** manager → a primary server: expect this transfer and pass it down its chain. */
  public static String prepare(int serverId) {
    return SERVER_PREFIX + serverId + ".prepare";
  }
}
