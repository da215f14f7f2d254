package dev.backup.cluster;

/** Event-bus addresses shared by the manager and the servers. */
public final class Addresses {
  /** servers → manager: load reports (request; the reply lets the server time the round trip). */
  public static final String LOAD = "backup.manager.load";
  /** primary server → manager: all copies of a transfer are durable. */
  public static final String COMMITTED = "backup.manager.committed";
  /** primary server → manager: a transfer failed; any copy of its version is garbage. */
  public static final String ABORTED = "backup.manager.aborted";
  /** server → manager: a scrub found a copy whose bytes no longer match its checksum. */
  public static final String BAD_COPY = "backup.manager.bad-copy";

  private Addresses() {
  }

  /** manager → server: remove these copies. */
  public static String delete(int serverId) {
    return "backup.server." + serverId + ".delete";
  }

  /** manager → server: re-read these copies and compare their checksums. */
  public static String verify(int serverId) {
    return "backup.server." + serverId + ".verify";
  }

  /** manager → server: send a copy of a replica you hold to another server. */
  public static String copy(int serverId) {
    return "backup.server." + serverId + ".copy";
  }

  /** manager → server: list every copy you hold. */
  public static String inventory(int serverId) {
    return "backup.server." + serverId + ".inventory";
  }

  /** manager → a primary server: expect this transfer and pass it down its chain. */
  public static String prepare(int serverId) {
    return "backup.server." + serverId + ".prepare";
  }
}
