package dev.backup.manager;

import static org.assertj.core.api.Assertions.assertThat;

import dev.backup.TestSupport;
import dev.backup.config.Role;
import io.vertx.core.Future;
import io.vertx.core.MultiMap;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.Message;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A server's inventory against the catalog: a copy the catalog does not list is removed
 * only when enough holders are alive now; holders merely suspected or not heard of yet
 * may never come back, and the unlisted copy may be the last one.
 */
class UnlistedCopyTest {
  private final Vertx vertx = Vertx.vertx();
  @TempDir
  Path dir;

  @AfterEach
  void close() {
    vertx.close().await();
  }

  private ManagerService service(ServerTable servers) {
    return service(servers, () -> Future.succeededFuture());
  }

  /** As above, with the catalog saved by {@code save}. */
  private ManagerService service(ServerTable servers, java.util.function.Supplier<Future<Void>> save) {
    // (A grace of 30 s: servers first heard a minute ago are past it, one heard just now is in it.)
    ManagerService svc = new ManagerService(vertx,
        TestSupport.healGrace(TestSupport.config(Role.manager, 0, 7000, 7000, dir), 30), servers, save);
    svc.serversChanged();
    // "a" v1, two copies wanted, listed on servers 1 and 2.
    svc.catalog.commit("a", 2, new Catalog.Version(1, 10, "5a", 1, List.of(1, 2)));
    return svc;
  }

  /** Servers 1 to 3, alive. */
  private static ServerTable threeAlive() {
    ServerTable servers = new ServerTable(5_000);
    long now = ServerTable.now();
    for (int id = 1; id <= 3; id++) {
      servers.onReport(HealLookTest.report(id), true, now);
    }
    return servers;
  }

  /** A server's copy of "a" v1, as an inventory lists it. */
  private static JsonObject copyOfA() {
    return new JsonObject().put("name", "a").put("version", 1L).put("size", 10L).put("sha256", "5a")
        .put("created", 1L).put("replicas", 2);
  }

  /** Server 3 sends an inventory holding a copy of "a" v1 the catalog does not list; the reply. */
  private static JsonObject unlistedCopyOnServer3(ManagerService svc) {
    JsonObject copy = copyOfA();
    Reply msg = new Reply(new JsonObject().put("id", 3).put("items", new JsonArray().add(copy)));
    svc.reconcile(msg);
    assertThat(msg.failure).isNull();
    assertThat(msg.reply).isNotNull();
    return msg.reply;
  }

  /** Server 2 sends an inventory: with "a" v1 listed, or not. */
  private static void inventoryOfServer2(ManagerService svc, boolean withA, String token) {
    JsonArray items = new JsonArray();
    if (withA) {
      items.add(copyOfA());
    }
    Reply msg = new Reply(new JsonObject().put("id", 2).put("token", token).put("items", items));
    svc.reconcile(msg);
    assertThat(msg.failure).isNull();
  }

  @Test
  void aListedCopyLackingFromTwoInventoriesInARowIsNoLongerCounted() {
    ServerTable servers = threeAlive();
    ManagerService svc = service(servers);
    String asked = servers.inventoryWanted(2);
    // Lacking once: it may have been put in place after the listing passed its folder
    // (another server reported it first). Still counted; the server is asked again.
    inventoryOfServer2(svc, false, asked);
    assertThat(svc.catalog.version("a", 1).servers()).containsExactly(1, 2);
    servers.inventoryApplied(2, asked);
    String again = servers.inventoryWanted(2);
    assertThat(again).as("asked again at once").isNotNull().isNotEqualTo(asked);
    // The next listing has it: it stays.
    inventoryOfServer2(svc, true, again);
    assertThat(svc.catalog.version("a", 1).servers()).containsExactly(1, 2);
    // Lacking twice in a row: lost, no longer counted (healing makes a new copy).
    servers.inventoryApplied(2, again);
    servers.wantInventory(2); // (asked again later: the six-hourly inventory, say)
    String third = servers.inventoryWanted(2);
    inventoryOfServer2(svc, false, third);
    assertThat(svc.catalog.version("a", 1).servers()).containsExactly(1, 2);
    inventoryOfServer2(svc, false, servers.inventoryWanted(2));
    assertThat(svc.catalog.version("a", 1).servers()).containsExactly(1);
  }

  @Test
  void anInventoryIsComparedWithALargeCatalogAStepAtATime() {
    // More files than a step takes: the copies an inventory lacks are found a step at a
    // time after it is answered, not in one turn of the event loop (a quarter of a second
    // a million files); lacking from two inventories, the second asked for once the first
    // comparison ended, they are no longer counted, as with a small catalog.
    ServerTable servers = threeAlive();
    ManagerService svc = service(servers);
    io.vertx.core.Context context = vertx.getOrCreateContext();
    int files = 2 * Steps.SIZE + 5_000;
    String gone = String.format("f%06d", files - 10); // (in the last step)
    JsonArray items = new JsonArray().add(copyOfA());
    for (int i = 0; i < files; i++) {
      String name = String.format("f%06d", i);
      if (!name.equals(gone)) {
        items.add(new JsonObject().put("name", name).put("version", 1L).put("size", 10L).put("sha256", "5a")
            .put("created", 1L).put("replicas", 2));
      }
    }
    java.util.function.Function<String, Boolean> reconcile = token -> {
      Reply msg = new Reply(new JsonObject().put("id", 2).put("token", token).put("items", items));
      svc.reconcile(msg);
      // (Answered at once, before the comparison reached the last step.)
      return msg.reply != null && svc.catalog.version(gone, 1).servers().size() == 2;
    };
    java.util.function.Function<String, Boolean> inventory = token -> onContext(context, () -> reconcile.apply(token));
    Runnable compared = () -> org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(10))
        .until(() -> !onContext(context, () -> svc.comparingInventory(2)));
    String first = onContext(context, () -> {
      for (int i = 0; i < files; i++) {
        svc.catalog.commit(String.format("f%06d", i), 2, new Catalog.Version(1, 10, "5a", 1, List.of(1, 2)));
      }
      return servers.inventoryWanted(2);
    });
    // Another comes while it is compared (sent twice, say): not compared (one walk at a time).
    assertThat(onContext(context, () -> reconcile.apply(first) && svc.comparingInventory(2)
        && reconcile.apply(first) && svc.comparingInventory(2))).isTrue();
    compared.run();
    String second = onContext(context, () -> servers.inventoryWanted(2));
    assertThat(second).as("asked again once the comparison ended").isNotNull().isNotEqualTo(first);
    // One asked for before the comparison ended: not compared either.
    assertThat(inventory.apply(first)).isTrue();
    assertThat(onContext(context, () -> svc.comparingInventory(2))).isFalse();
    // The one asked for after: lacking twice, no longer counted.
    assertThat(inventory.apply(second)).isTrue();
    compared.run();
    assertThat(onContext(context, () -> svc.catalog.version(gone, 1).servers())).containsExactly(1);
    assertThat(onContext(context, () -> svc.catalog.version("f000000", 1).servers())).containsExactly(1, 2);
  }

  private static <T> T onContext(io.vertx.core.Context context, java.util.function.Supplier<T> body) {
    io.vertx.core.Promise<T> p = io.vertx.core.Promise.promise();
    context.runOnContext(x -> p.complete(body.get()));
    return p.future().await();
  }

  @Test
  void anInventoryAskedForBeforeTheLastComparisonEndedIsNotCompared() {
    // The comparison of a large catalog ends well after its inventory came: an inventory
    // asked for before it ended may have been listed before a copy it compares went in.
    // Lacking from it and from the last is not lacking twice: it is not compared.
    ServerTable servers = threeAlive();
    ManagerService svc = service(servers);
    String first = servers.inventoryWanted(2);
    inventoryOfServer2(svc, false, first);
    String asked = servers.inventoryWanted(2);
    assertThat(asked).as("asked again once the comparison ended").isNotEqualTo(first);
    // An inventory answering the request before that one (listed before it, say).
    inventoryOfServer2(svc, false, first);
    assertThat(svc.catalog.version("a", 1).servers()).containsExactly(1, 2);
    // One asked for after the last comparison ended lacks it too: lost.
    inventoryOfServer2(svc, false, servers.inventoryWanted(2));
    assertThat(svc.catalog.version("a", 1).servers()).containsExactly(1);
  }

  @Test
  void anInventoryInPagesCountsACopyLackingOnlyOnceItsLastPageIsIn() {
    ServerTable servers = threeAlive();
    ManagerService svc = service(servers);
    String asked = servers.inventoryWanted(2);
    JsonObject a = copyOfA();
    // The first page does not have "a" v1; it is not lacking for that (not asked again).
    Reply first = page(svc, asked, 0, false, new JsonArray());
    assertThat(first.failure).isNull();
    assertThat(servers.inventoryWanted(2)).isEqualTo(asked);
    // A page out of turn (another token, a page skipped) is refused, and the inventory must begin again.
    assertThat(page(svc, "other", 1, true, new JsonArray()).failure).contains("out of turn");
    assertThat(page(svc, asked, 1, true, new JsonArray().add(a)).failure).contains("out of turn");
    assertThat(page(svc, asked, 0, false, new JsonArray()).failure).isNull();
    assertThat(page(svc, asked, 2, true, new JsonArray().add(a)).failure).contains("out of turn");
    assertThat(page(svc, asked, 0, false, new JsonArray()).failure).isNull();
    // The last page has it: nothing lacking, nothing asked again.
    assertThat(page(svc, asked, 1, true, new JsonArray().add(a)).failure).isNull();
    assertThat(servers.inventoryWanted(2)).isEqualTo(asked);
    assertThat(svc.catalog.version("a", 1).servers()).containsExactly(1, 2);
    // Lacking from a whole inventory (its pages all in): asked again at once, as before.
    assertThat(page(svc, asked, 0, false, new JsonArray()).failure).isNull();
    assertThat(page(svc, asked, 1, true, new JsonArray()).failure).isNull();
    assertThat(servers.inventoryWanted(2)).isNotEqualTo(asked);
  }

  private static Reply page(ManagerService svc, String token, int page, boolean last, JsonArray items) {
    Reply msg = new Reply(new JsonObject().put("id", 2).put("token", token).put("page", page).put("last", last)
        .put("items", items));
    svc.reconcile(msg);
    return msg;
  }

  @Test
  void aCopyWithoutReadableMetadataIsCheckedAndStaysCountedUntilTheNextInventoryStillHasItSo() {
    ServerTable servers = threeAlive();
    ManagerService svc = service(servers);
    JsonObject bare = new JsonObject().put("name", "a").put("version", 1L).put("size", 10L);
    JsonObject unknown = new JsonObject().put("name", "b").put("version", 4L).put("size", 3L);
    // Server 2 lists "a" v1 without readable metadata (and a copy of a version the catalog
    // does not know): still counted (not lacking), and its bytes are to be checked.
    for (int round = 1; round <= 3; round++) {
      Reply msg = new Reply(new JsonObject().put("id", 2).put("token", "t" + round).put("items", new JsonArray())
          .put("unreadable", new JsonArray().add(bare).add(unknown)));
      svc.reconcile(msg);
      assertThat(msg.failure).isNull();
      assertThat(msg.reply.getJsonArray("check")).containsExactly(new JsonObject().put("name", "a").put("version", 1L));
      assertThat(msg.reply.getJsonArray("remove")).isEmpty();
      // The next inventory still lists it so (its check did not make its metadata again:
      // its bytes could not be read, say): no longer counted, and healed elsewhere.
      assertThat(svc.catalog.version("a", 1).servers()).isEqualTo(round == 1 ? List.of(1, 2) : List.of(1));
    }
    assertThat(svc.catalog.get("b")).isNull();
    // Never the last live holder, however long: there is nothing to heal from.
    for (int round = 1; round <= 3; round++) {
      Reply msg = new Reply(new JsonObject().put("id", 1).put("token", "u" + round).put("items", new JsonArray())
          .put("unreadable", new JsonArray().add(bare)));
      svc.reconcile(msg);
      assertThat(msg.reply.getJsonArray("check")).hasSize(1);
      assertThat(svc.catalog.version("a", 1).servers()).containsExactly(1);
    }
    // Listed with readable metadata in the same inventory (made again while it was listed):
    // nothing to check.
    Reply both = new Reply(new JsonObject().put("id", 1).put("token", "w").put("items", new JsonArray().add(copyOfA()))
        .put("unreadable", new JsonArray().add(bare)));
    svc.reconcile(both);
    assertThat(both.reply.getJsonArray("check")).isEmpty();
    assertThat(svc.catalog.version("a", 1).servers()).containsExactly(1);
  }

  @Test
  void aCopyFoundDamagedIsNotListedAgainOnItsServersWordUntilItsBytesAreFoundRight() {
    // (On one event loop, as the manager runs: the removal badCopy sends answers there.)
    io.vertx.core.Context loop = vertx.getOrCreateContext();
    ServerTable servers = threeAlive();
    ManagerService svc = onLoop(loop, () -> service(servers));
    // Server 2's bytes of "a" v1 are damaged (its metadata right): no longer counted. Its
    // removal goes unanswered (nobody listens here): an inventory is asked for.
    String beforeRemoval = servers.inventoryWanted(2);
    onLoop(loop, () -> svc.badCopy(2, "a", 1, "0bad"));
    assertThat(onLoop(loop, () -> svc.catalog.version("a", 1).servers())).containsExactly(1);
    String asked = await(() -> servers.inventoryWanted(2), t -> !t.equals(beforeRemoval));
    // Its bytes found right while that removal may still come: still not counted, and
    // another inventory asked for, to look again once the removal is settled.
    assertThat(onLoop(loop, () -> svc.badCopy(2, "a", 1, "5a")).getString("repair")).isEqualTo("5a");
    assertThat(servers.inventoryWanted(2)).isNotEqualTo(asked);
    // The inventory asked for lists the copy, its metadata agreeing with the catalog:
    // checked again, not taken back as a holder.
    assertThat(inventory(loop, svc, asked, copyOfA()).getJsonArray("check")).containsExactly(copyOfA());
    assertThat(onLoop(loop, () -> svc.catalog.version("a", 1).servers())).containsExactly(1);
    // Its bytes found right, no removal pending now: listed again, at an inventory asked for at once.
    assertThat(onLoop(loop, () -> svc.badCopy(2, "a", 1, "5a")).getString("repair")).isEqualTo("5a");
    String again = servers.inventoryWanted(2);
    assertThat(again).isNotEqualTo(asked);
    assertThat(inventory(loop, svc, again, copyOfA()).getJsonArray("check")).isEmpty();
    assertThat(onLoop(loop, () -> svc.catalog.version("a", 1).servers())).containsExactly(1, 2);
  }

  @Test
  void aDamagedCopyItsServerNoLongerListsIsGoneAndItsServerATargetAgain() {
    io.vertx.core.Context loop = vertx.getOrCreateContext();
    ServerTable servers = threeAlive();
    ManagerService svc = onLoop(loop, () -> service(servers));
    String beforeRemoval = servers.inventoryWanted(2);
    onLoop(loop, () -> svc.badCopy(2, "a", 1, "0bad"));
    String asked = await(() -> servers.inventoryWanted(2), t -> !t.equals(beforeRemoval));
    // An inventory asked for before the copy was found damaged lacks it: that proves
    // nothing (its listing may be older than the copy), the copy is still checked.
    assertThat(inventory(loop, svc, beforeRemoval, null).getJsonArray("check")).isEmpty();
    assertThat(inventory(loop, svc, "other", copyOfA()).getJsonArray("check")).containsExactly(copyOfA());
    // The removal was done after all (its answer lost): the inventory asked for after it lacks the copy.
    assertThat(inventory(loop, svc, asked, null).getJsonArray("check")).isEmpty();
    // A copy there later (a heal's, whose report was lost) is one like any other.
    JsonObject later = inventory(loop, svc, "next", copyOfA());
    assertThat(later.getJsonArray("check")).isEmpty();
    assertThat(onLoop(loop, () -> svc.catalog.version("a", 1).servers())).containsExactly(1, 2);
  }

  /** Server 2's inventory, with {@code copy} or nothing, sent on the manager's loop; its answer. */
  private static JsonObject inventory(io.vertx.core.Context loop, ManagerService svc, String token, JsonObject copy) {
    JsonArray items = copy == null ? new JsonArray() : new JsonArray().add(copy);
    Reply msg = new Reply(new JsonObject().put("id", 2).put("token", token).put("items", items));
    onLoop(loop, () -> {
      svc.reconcile(msg);
      return null;
    });
    assertThat(msg.failure).isNull();
    return msg.reply;
  }

  private static <T> T await(java.util.concurrent.Callable<T> value, java.util.function.Predicate<T> until) {
    return org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(5)).until(value, until);
  }


  private static <T> T onLoop(io.vertx.core.Context loop, java.util.concurrent.Callable<T> work) {
    return Future.<T>future(p -> loop.runOnContext(v -> {
      try {
        p.complete(work.call());
      } catch (Throwable t) {
        p.fail(t);
      }
    })).await();
  }


  @Test
  void anUnlistedCopyIsSurplusWhenTheListedHoldersAreAlive() {
    ServerTable servers = new ServerTable(5_000);
    long now = ServerTable.now();
    for (int id = 1; id <= 3; id++) {
      servers.onReport(HealLookTest.report(id), true, now - 60_000);
      servers.onReport(HealLookTest.report(id), true, now);
    }
    ManagerService svc = service(servers);
    assertThat(unlistedCopyOnServer3(svc).getJsonArray("remove")).hasSize(1);
    assertThat(svc.catalog.version("a", 1).servers()).containsExactly(1, 2);
  }

  @Test
  void anUnlistedCopyIsKeptAndListedWhenTheListedHoldersAreOnlySuspected() {
    ServerTable servers = new ServerTable(5_000);
    long now = ServerTable.now();
    servers.onReport(HealLookTest.report(1), true, now - 60_000);
    servers.onReport(HealLookTest.report(2), true, now - 60_000);
    servers.onReport(HealLookTest.report(3), true, now);
    servers.tick(now);
    assertThat(servers.health(1)).isEqualTo(ServerTable.Health.suspected);
    assertThat(servers.health(3)).isEqualTo(ServerTable.Health.alive);
    ManagerService svc = service(servers);
    assertThat(unlistedCopyOnServer3(svc).getJsonArray("remove")).isEmpty();
    assertThat(svc.catalog.version("a", 1).servers()).containsExactly(1, 2, 3);
  }

  @Test
  void anUnlistedCopyIsKeptAndListedWhenTheListedHoldersAreNotHeardOfYetAfterAStart() {
    // The manager just started (its healing grace): servers 1 and 2 have not reported yet.
    ServerTable servers = new ServerTable(5_000);
    servers.onReport(HealLookTest.report(3), true, ServerTable.now());
    assertThat(servers.health(1)).isEqualTo(ServerTable.Health.unknown);
    ManagerService svc = service(servers);
    assertThat(unlistedCopyOnServer3(svc).getJsonArray("remove")).isEmpty();
    assertThat(svc.catalog.version("a", 1).servers()).containsExactly(1, 2, 3);
  }

  @Test
  void aBackupReportedAfterItsTransferWasReportedAbortedIsNotRecorded() {
    // A primary's report tried again after its session failed, and its abort got there first.
    ServerTable servers = new ServerTable(5_000);
    servers.onReport(HealLookTest.report(1), true, ServerTable.now());
    servers.onReport(HealLookTest.report(2), true, ServerTable.now());
    ManagerService svc = service(servers);
    long version = svc.catalog.reserveVersion("late");
    JsonObject transfer = new JsonObject().put("transferId", "t1").put("name", "late").put("version", version)
        .put("chain", new JsonArray().add(1).add(2));
    svc.aborted(transfer);
    Future<Void> report = svc.committed(transfer.copy().put("copy", false).put("size", 10L).put("sha256", "5a")
        .put("servers", new JsonArray().add(1).add(2)).put("replicas", 2));
    assertThat(report.failed()).isTrue();
    assertThat(report.cause()).hasMessageContaining("aborted or deleted");
    assertThat(svc.catalog.get("late")).isNull();
    assertThat(svc.catalog.buried("late", version)).isTrue();
  }

  @Test
  void aCopyWhoseRemovalIsUnderWayIsNotCountedAgainByAnInventoryListingIt() {
    // "a" v1 down from 3 copies to 2: one holder is taken off the catalog, its copy removed
    // once that is saved (the save still under way here). An inventory of that server read
    // before the removal lists the copy while another holder is suspected: it must not be
    // counted again, as the removal is about to take it.
    ServerTable servers = threeAlive();
    java.util.concurrent.atomic.AtomicReference<io.vertx.core.Promise<Void>> saving = new java.util.concurrent.atomic.AtomicReference<>();
    ManagerService svc = service(servers, () -> {
      io.vertx.core.Promise<Void> p = io.vertx.core.Promise.promise();
      saving.set(p);
      return p.future();
    });
    io.vertx.core.Context context = vertx.getOrCreateContext();
    onContext(context, () -> {
      svc.catalog.commit("a", 3, new Catalog.Version(1, 10, "5a", 1, List.of(1, 2, 3)));
      return svc.handle(new JsonObject().put("op", "replicas").put("path", "a").put("replicas", 2));
    });
    org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(10))
        .alias("the removal waits for the save").until(() -> saving.get() != null);
    List<Integer> kept = onContext(context, () -> svc.catalog.version("a", 1).servers());
    assertThat(kept).hasSize(2);
    int leaving = java.util.stream.IntStream.rangeClosed(1, 3).filter(i -> !kept.contains(i)).findFirst().orElseThrow();
    List<Integer> after = onContext(context, () -> {
      servers.onMemberRemoved(kept.get(0)); // (another holder lost meanwhile)
      svc.reconcile(new Reply(new JsonObject().put("id", leaving).put("items", new JsonArray().add(copyOfA()))));
      return svc.catalog.version("a", 1).servers();
    });
    assertThat(after).containsExactlyElementsOf(kept);
  }

  @Test
  void aCopyRemovedWhileAnInventoryWasUnderWayIsNotCountedAgainByIt() {
    // As above, but the removal is done (its server confirmed it) before the inventory's
    // page comes: that page was read before the removal, and its copy is gone.
    ServerTable servers = threeAlive();
    io.vertx.core.Context context = vertx.getOrCreateContext();
    ManagerService svc = service(servers);
    java.util.concurrent.atomic.AtomicInteger deleted = new java.util.concurrent.atomic.AtomicInteger();
    onContext(context, () -> {
      for (int id = 1; id <= 3; id++) {
        vertx.eventBus().<JsonObject>consumer(dev.backup.cluster.Addresses.delete(id), m -> {
          deleted.incrementAndGet();
          m.reply(new JsonObject());
        });
      }
      svc.catalog.commit("a", 3, new Catalog.Version(1, 10, "5a", 1, List.of(1, 2, 3)));
      svc.handle(new JsonObject().put("op", "replicas").put("path", "a").put("replicas", 2));
      return "";
    });
    org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(10)).until(() -> deleted.get() == 1);
    List<Integer> kept = onContext(context, () -> svc.catalog.version("a", 1).servers());
    int leaving = java.util.stream.IntStream.rangeClosed(1, 3).filter(i -> !kept.contains(i)).findFirst().orElseThrow();
    List<Integer> after = onContext(context, () -> {
      String token = servers.inventoryWanted(leaving); // (asked for at its start, before the removal)
      servers.onMemberRemoved(kept.get(0));
      svc.reconcile(new Reply(new JsonObject().put("id", leaving).put("token", token)
          .put("items", new JsonArray().add(copyOfA()))));
      return svc.catalog.version("a", 1).servers();
    });
    assertThat(after).containsExactlyElementsOf(kept);
  }

  @Test
  void noCopyIsRemovedByAnInventoryBeforeTheDeletionItFollowsIsSaved() {
    // A deletion whose save failed is in memory only (the client was told it failed): a
    // restart would bring the version back. An inventory listing its copy meanwhile must not
    // have it removed while the catalog cannot be written.
    ServerTable servers = threeAlive();
    boolean[] writable = {true};
    ManagerService svc = service(servers, () -> writable[0] ? Future.succeededFuture()
        : Future.failedFuture(new java.io.IOException("No space left on device")));
    writable[0] = false;
    svc.catalog.removeVersion("a", 1);
    Reply msg = new Reply(new JsonObject().put("id", 1).put("items", new JsonArray().add(copyOfA())));
    svc.reconcile(msg);
    assertThat(msg.reply).as("no removal sent").isNull();
    assertThat(msg.failure).contains("cannot write its catalog");
    // Once it can be written, the copy goes.
    writable[0] = true;
    Reply again = new Reply(new JsonObject().put("id", 1).put("items", new JsonArray().add(copyOfA())));
    svc.reconcile(again);
    assertThat(again.reply.getJsonArray("remove")).hasSize(1);
  }

  /** The inventory message, keeping what the manager answers. */
  private static final class Reply implements Message<JsonObject> {
    private final JsonObject body;
    JsonObject reply;
    String failure;

    Reply(JsonObject body) {
      this.body = body;
    }

    @Override
    public String address() {
      return "backup.manager.inventory";
    }

    @Override
    public MultiMap headers() {
      return MultiMap.caseInsensitiveMultiMap();
    }

    @Override
    public JsonObject body() {
      return body;
    }

    @Override
    public String replyAddress() {
      return "reply";
    }

    @Override
    public boolean isSend() {
      return true;
    }

    @Override
    public void reply(Object message, DeliveryOptions options) {
      if (message instanceof io.vertx.core.eventbus.ReplyException e) {
        failure = e.getMessage();
      } else {
        reply = (JsonObject) message;
      }
    }

    @Override
    public <R> Future<Message<R>> replyAndRequest(Object message, DeliveryOptions options) {
      throw new UnsupportedOperationException();
    }
  }
}
