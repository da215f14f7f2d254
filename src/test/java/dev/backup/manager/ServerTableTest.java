package dev.backup.manager;

import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;

class ServerTableTest {

  private static JsonObject report(int id) {
    return new JsonObject().put("id", id).put("node", "n" + id).put("host", "127.0.0.1").put("port", 7000 + id);
  }

  /** Ticks every 250 ms from {@code from} to {@code to}. */
  private static void tickThrough(ServerTable t, long from, long to) {
    for (long now = from; now <= to; now += ServerTable.TICK_MILLIS) {
      t.tick(now);
    }
  }

  @Test
  void aSilentServerIsSuspectedAfterTheThreshold() {
    ServerTable t = new ServerTable(2500);
    t.onReport(report(1), true, 1_000);
    t.onReport(report(2), true, 1_000);
    tickThrough(t, 1_000, 3_000);
    t.onReport(report(2), true, 3_000);
    tickThrough(t, 3_250, 4_000);
    assertThat(t.health(1)).isEqualTo(ServerTable.Health.suspected);
    assertThat(t.health(2)).isEqualTo(ServerTable.Health.alive);
  }

  @Test
  void aStalledManagerDoesNotSuspectEveryServer() {
    ServerTable t = new ServerTable(2500);
    t.onReport(report(1), true, 1_000);
    t.onReport(report(2), true, 1_000);
    tickThrough(t, 1_000, 1_500);
    // The manager stops for 4 s (its own pause): the next tick comes late, before the
    // reports queued meanwhile are handled. Nobody is suspected for the manager's stall.
    assertThat(t.tick(5_500)).isEmpty();
    assertThat(t.health(1)).isEqualTo(ServerTable.Health.alive);
    assertThat(t.health(2)).isEqualTo(ServerTable.Health.alive);
    // A server that then stays silent is still suspected in due time.
    t.onReport(report(2), true, 5_600);
    tickThrough(t, 5_750, 9_000);
    assertThat(t.health(1)).isEqualTo(ServerTable.Health.suspected);
    assertThat(t.health(2)).isEqualTo(ServerTable.Health.suspected);
  }

  @Test
  void clientsAreBeingServedWhileALiveServerReportsForegroundTransfers() {
    ServerTable t = new ServerTable(2500);
    t.onReport(report(1), true, 1_000);
    t.onReport(report(2).put("transfers", 3), true, 1_000);
    assertThat(t.clientsBeingServed()).as("heal copies alone are not clients").isFalse();
    t.onReport(report(1).put("transfers", 1).put("foreground", 1), true, 1_100);
    assertThat(t.clientsBeingServed()).isTrue();
    // A server that left the cluster does not count, whatever it said last.
    t.onMemberRemoved(1);
    assertThat(t.clientsBeingServed()).isFalse();
  }

  @Test
  void aServerIsAskedForItsInventoryUntilItAppliedTheAnswerEachTimeItComesAlive() {
    ServerTable t = new ServerTable(2500);
    t.onReport(report(1), true, 1_000);
    String first = t.inventoryWanted(1);
    assertThat(first).as("asked when first alive").isNotNull();
    // Asked in every reply until applied: a lost request or answer only delays it.
    t.onReport(report(1), true, 1_500);
    assertThat(t.inventoryWanted(1)).isEqualTo(first);
    t.inventoryApplied(1, "some other token");
    assertThat(t.inventoryWanted(1)).isEqualTo(first);
    t.inventoryApplied(1, first);
    assertThat(t.inventoryWanted(1)).isNull();
    t.onReport(report(1), true, 2_000);
    assertThat(t.inventoryWanted(1)).as("not asked again while it stays alive").isNull();

    // Silent, then back: asked again, with a new token (an answer to the old one does not count).
    tickThrough(t, 2_000, 5_000);
    assertThat(t.health(1)).isEqualTo(ServerTable.Health.suspected);
    assertThat(t.inventoryWanted(1)).as("not asked while it is not alive").isNull();
    t.onReport(report(1), true, 5_100);
    String second = t.inventoryWanted(1);
    assertThat(second).isNotNull().isNotEqualTo(first);
    t.inventoryApplied(1, first);
    assertThat(t.inventoryWanted(1)).isEqualTo(second);

    // A deletion sent to it was lost: asked again.
    t.inventoryApplied(1, second);
    t.wantInventory(1);
    assertThat(t.inventoryWanted(1)).isNotNull().isNotEqualTo(second);

    // Its connection broke and it came back: asked again.
    t.inventoryApplied(1, t.inventoryWanted(1));
    t.onWatchLost(1);
    t.onReport(report(1), true, 5_600);
    assertThat(t.inventoryWanted(1)).isNotNull();
  }

  @Test
  void aLiveServerIsAskedForItsInventoryAgainEverySixHours() {
    ServerTable t = new ServerTable(2500);
    long start = ServerTable.now();
    t.onReport(report(1), true, start);
    t.inventoryApplied(1, t.inventoryWanted(1));
    long applied = ServerTable.now();
    long at = applied + ServerTable.INVENTORY_EVERY_MILLIS - 1_000;
    t.onReport(report(1), true, at);
    t.tick(at);
    assertThat(t.health(1)).isEqualTo(ServerTable.Health.alive);
    assertThat(t.inventoryWanted(1)).as("not yet").isNull();
    at = applied + ServerTable.INVENTORY_EVERY_MILLIS;
    t.onReport(report(1), true, at);
    t.tick(at);
    String again = t.inventoryWanted(1);
    assertThat(again).as("six hours on").isNotNull();
    t.tick(at + 500);
    assertThat(t.inventoryWanted(1)).as("the same request until applied").isEqualTo(again);
  }

  @Test
  void anotherManagerRunNeverTakesATokenOfThisOneAsApplied() {
    ServerTable before = new ServerTable(2500);
    before.onReport(report(1), true, 1_000);
    ServerTable after = new ServerTable(2500);
    after.onReport(report(1), true, 1_000);
    after.inventoryApplied(1, before.inventoryWanted(1));
    assertThat(after.inventoryWanted(1)).isNotNull();
  }
  /** A server that has not counted its copies yet (just restarted) reports no counts: the last ones stay. */
  @Test
  void aReportWithoutCountsKeepsTheLastOnes() {
    ServerTable t = new ServerTable(2500);
    t.onReport(report(1).put("bytes", 5_000L).put("files", 5L).put("damagedAside", 2), true, 1_000);
    t.onReport(report(1), true, 1_200);
    JsonObject s = t.toJson().getJsonArray("servers").getJsonObject(0);
    assertThat(s.getLong("bytes")).isEqualTo(5_000L);
    assertThat(s.getLong("files")).isEqualTo(5L);
    assertThat(s.getInteger("damagedAside")).isEqualTo(2);
    t.onReport(report(1).put("bytes", 7_000L).put("files", 6L).put("damagedAside", 0), true, 1_400);
    s = t.toJson().getJsonArray("servers").getJsonObject(0);
    assertThat(s.getLong("bytes")).isEqualTo(7_000L);
    assertThat(s.getLong("files")).isEqualTo(6L);
    assertThat(s.getInteger("damagedAside")).isZero();
  }
}
