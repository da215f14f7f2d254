package dev.backup.manager;

import static org.assertj.core.api.Assertions.assertThat;

import dev.backup.TestSupport;
import dev.backup.config.Role;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Healing looks through the whole catalog only when something happened that can leave a
 * version short of copies (a server's health, a holder removed, more copies wanted), and
 * otherwise every HEAL_RESCAN_MS: not every half second whatever happened.
 */
class HealLookTest {
  private final Vertx vertx = Vertx.vertx();
  @TempDir
  Path dir;

  @AfterEach
  void close() {
    vertx.close().await();
  }

  /** A load report of server {@code id}, with a terabyte free. */
  static JsonObject report(int id) {
    return new JsonObject().put("id", id).put("node", "n" + id).put("host", "127.0.0.1").put("port", 7000 + id)
        .put("freeBytes", 1L << 40);
  }

  /** Servers 1-3, alive, their reports from a minute ago: the start-up grace is over. */
  private static ServerTable threeAlive() {
    ServerTable servers = new ServerTable(5_000);
    long then = ServerTable.now() - 60_000;
    for (int id = 1; id <= 3; id++) {
      servers.onReport(report(id), true, then);
    }
    return servers;
  }

  private ManagerService service(ServerTable servers) {
    return new ManagerService(vertx, TestSupport.config(Role.manager, 0, 7000, 7000, dir), servers,
        () -> Future.succeededFuture());
  }

  @Test
  void looksAgainOnlyAfterAChangeThatCanLeaveAVersionShortOrAfterAWhile() {
    ServerTable servers = threeAlive();
    ManagerService svc = service(servers);
    svc.serversChanged();
    svc.catalog.commit("a", 2, new Catalog.Version(1, 10, "00", 1, List.of(1, 2)));
    svc.catalog.commit("b", 1, new Catalog.Version(1, 10, "00", 1, List.of(2)));
    // (No look below finds a copy it could make: a copy would fail on this Vert.x and look again.)
    long now = ServerTable.now();

    svc.heal(now);
    assertThat(svc.healLooks).isEqualTo(1);
    svc.heal(now + 500);
    svc.heal(now + 1_000);
    assertThat(svc.healLooks).as("nothing changed").isEqualTo(1);

    // More copies of a version, a new version with all its copies: nothing can be short.
    svc.catalog.addHolder("a", 1, 3);
    svc.catalog.commit("c", 2, new Catalog.Version(1, 10, "00", 1, List.of(1, 3)));
    svc.heal(now + 1_500);
    assertThat(svc.healLooks).isEqualTo(1);

    // Server 2 dies: "b" has no copy left anywhere alive (nothing to copy from), "a" still two.
    servers.onMemberRemoved(2);
    svc.heal(now + 2_000);
    assertThat(svc.healLooks).as("a server's health changed").isEqualTo(2);
    svc.heal(now + 2_500);
    assertThat(svc.healLooks).isEqualTo(2);

    // Three copies of "a" wanted: no server outside its holders is alive to take one.
    svc.catalog.setReplicas("a", 3);
    svc.heal(now + 3_000);
    assertThat(svc.healLooks).as("more copies wanted").isEqualTo(3);
    svc.catalog.removeHolder("b", 1, 2);
    svc.heal(now + 3_500);
    assertThat(svc.healLooks).as("a holder removed").isEqualTo(4);
    assertThat(svc.healCopies).isZero();

    // Nothing happens: one more look once the rescan period has passed, and only one.
    svc.heal(now + 3_500 + ManagerService.HEAL_RESCAN_MS - 1);
    assertThat(svc.healLooks).isEqualTo(4);
    svc.heal(now + 3_500 + ManagerService.HEAL_RESCAN_MS);
    svc.heal(now + 3_600 + ManagerService.HEAL_RESCAN_MS);
    assertThat(svc.healLooks).isEqualTo(5);
  }

  @Test
  void noLookUntilHealGraceSecondsAfterTheFirstReport() {
    // Servers 1 and 2 heard from just now (the manager's first reports), 3 never: while the
    // grace lasts it may yet report, and its copies are not taken for lost.
    java.util.function.IntFunction<ManagerService> after = grace -> {
      ServerTable servers = new ServerTable(5_000);
      servers.onReport(report(1), true, ServerTable.now());
      servers.onReport(report(2), true, ServerTable.now());
      ManagerService svc = new ManagerService(vertx,
          TestSupport.healGrace(TestSupport.config(Role.manager, 0, 7000, 7000, dir), grace), servers,
          () -> Future.succeededFuture());
      svc.catalog.commit("a", 2, new Catalog.Version(1, 10, "00", 1, List.of(1, 3)));
      svc.heal(ServerTable.now());
      return svc;
    };
    assertThat(after.apply(60).healLooks).isZero();
    assertThat(after.apply(0).healLooks).isEqualTo(1);
  }

  @Test
  void aVersionCommittedWithACopyOnADeadServerIsLookedAtAtOnce() {
    ServerTable servers = threeAlive();
    ManagerService svc = service(servers);
    svc.serversChanged();
    long now = ServerTable.now();
    // Servers 2 and 3 die (so that no look can start a copy: server 1 would have no target).
    servers.onMemberRemoved(2);
    servers.onMemberRemoved(3);
    svc.serversChanged();
    svc.heal(now);
    svc.heal(now + 500);
    assertThat(svc.healLooks).isEqualTo(1);
    // A backup whose chain was 1 -> 3 is reported: server 3 stored its copy, then died.
    svc.committed(new JsonObject().put("name", "a").put("version", 1L).put("size", 10L).put("sha256", "00")
        .put("replicas", 2).put("servers", new io.vertx.core.json.JsonArray().add(1).add(3)));
    svc.heal(now + 1_000);
    assertThat(svc.healCopies).isZero();
    assertThat(svc.healLooks).as("a version short of copies from its commit").isEqualTo(2);
    // One with its copies alive is not a reason to look.
    svc.committed(new JsonObject().put("name", "b").put("version", 1L).put("size", 10L).put("sha256", "00")
        .put("replicas", 1).put("servers", new io.vertx.core.json.JsonArray().add(1)));
    svc.heal(now + 1_500);
    assertThat(svc.healLooks).isEqualTo(2);
  }

  @Test
  void aServerWithRoomAgainIsAReasonToLook() {
    ServerTable servers = threeAlive();
    ManagerService svc = service(servers);
    long now = ServerTable.now();
    // Server 3 is full; "a" wants a third copy, which only server 3 could take.
    servers.onReport(report(3).put("freeBytes", 0L), true, now);
    long copies = onContext(() -> {
      svc.serversChanged();
      svc.catalog.commit("a", 3, new Catalog.Version(1, 10, "00", 1, List.of(1, 2)));
      svc.heal(now);
      svc.heal(now + 500);
      // Server 1 frees space: it holds "a" already, no reason to look.
      servers.onReport(report(1).put("freeBytes", (1L << 40) + 4096), true, now + 600);
      svc.serversChanged();
      svc.heal(now + 1_000);
      return svc.healCopies;
    });
    assertThat(copies).isZero();
    assertThat(svc.healLooks).isEqualTo(1);
    // Server 3 has room again (files deleted): healing looks at once and starts the copy.
    long after = onContext(() -> {
      servers.onReport(report(3), true, now + 1_200);
      svc.serversChanged();
      svc.heal(now + 1_500);
      return svc.healCopies;
    });
    assertThat(after).isEqualTo(1);
  }

  /** The manager's context: its service is touched from this one thread only. */
  private final io.vertx.core.Context context = vertx.getOrCreateContext();

  /**
   * Runs {@code body} on the manager's context and gives its result. (Each thread that is
   * not Vert.x's, the test's or Awaitility's, would get a context of its own, on another
   * event loop, from {@code vertx.runOnContext}.)
   */
  private <T> T onContext(java.util.function.Supplier<T> body) {
    io.vertx.core.Promise<T> p = io.vertx.core.Promise.promise();
    context.runOnContext(x -> {
      try {
        p.complete(body.get());
      } catch (RuntimeException e) {
        p.fail(e);
      }
    });
    return p.future().await();
  }

  @Test
  void healingManyVersionsLooksThroughTheCatalogOnceNotOncePerCopy() {
    // A server holding a copy of each of 200 versions dies. Before, every heal that ended
    // looked through the whole catalog again for the next one: a look per copy healed, an
    // hour of the event loop for the half million copies a server of a large catalog holds.
    ServerTable servers = threeAlive();
    ManagerService svc = service(servers);
    int versions = 200;
    java.util.concurrent.atomic.AtomicInteger inFlight = new java.util.concurrent.atomic.AtomicInteger();
    java.util.concurrent.atomic.AtomicInteger mostInFlight = new java.util.concurrent.atomic.AtomicInteger();
    onContext(() -> {
      vertx.eventBus().<JsonObject>consumer(dev.backup.cluster.Addresses.prepare(3), m -> m.reply(new JsonObject()));
      vertx.eventBus().<JsonObject>consumer(dev.backup.cluster.Addresses.copy(1), m -> {
        mostInFlight.accumulateAndGet(inFlight.incrementAndGet(), Math::max);
        // Server 3 reports its new copy, then the source answers (as the real ones do).
        JsonObject t = m.body().getJsonObject("ticket");
        vertx.setTimer(1, x -> {
          svc.catalog.addHolder(t.getString("name"), t.getLong("version"), 3);
          inFlight.decrementAndGet();
          m.reply(new JsonObject());
        });
      });
      return null;
    });
    onContext(() -> {
      svc.serversChanged();
      for (int i = 0; i < versions; i++) {
        svc.catalog.commit("f" + i, 2, new Catalog.Version(1, 10, "00", 1, List.of(1, 2)));
      }
      servers.onMemberRemoved(2);
      svc.serversChanged();
      svc.heal();
      return null;
    });
    org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(20))
        .until(() -> onContext(() -> svc.healCopies == versions && svc.health().result().getInteger("healing") == 0));
    onContext(() -> {
      svc.heal();
      return null;
    });
    assertThat(onContext(() -> svc.health().result().getInteger("underReplicated"))).isZero();
    assertThat(svc.healCopies).as("each version healed once").isEqualTo(versions);
    assertThat(mostInFlight.get()).as("heals run side by side").isGreaterThan(1)
        .isLessThanOrEqualTo(svc.healSlots());
    assertThat(svc.healLooks).as("looks through the catalog").isLessThanOrEqualTo(3);
  }

  /**
   * Servers 2 and 3 take heal copies and server 1 sends them, each at once: the target's
   * report (its new holder) comes before the source's answer, as with the real ones. Call
   * it on the manager's context.
   */
  private void copiesFromServer1Succeed(ManagerService svc) {
    for (int target = 2; target <= 3; target++) {
      vertx.eventBus().<JsonObject>consumer(dev.backup.cluster.Addresses.prepare(target),
          m -> m.reply(new JsonObject()));
    }
    vertx.eventBus().<JsonObject>consumer(dev.backup.cluster.Addresses.copy(1), m -> {
      JsonObject t = m.body().getJsonObject("ticket");
      svc.catalog.addHolder(t.getString("name"), t.getLong("version"),
          t.getJsonArray("chain").getJsonObject(0).getInteger("id"));
      m.reply(new JsonObject());
    });
  }

  @Test
  void aVersionShortOfTwoCopiesGetsBothFromOneLook() {
    ServerTable servers = threeAlive();
    ManagerService svc = service(servers);
    onContext(() -> {
      copiesFromServer1Succeed(svc);
      svc.serversChanged();
      svc.catalog.commit("a", 3, new Catalog.Version(1, 10, "00", 1, List.of(1)));
      svc.heal();
      return null;
    });
    org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(10))
        .until(() -> onContext(() -> svc.catalog.version("a", 1).servers().size() == 3));
    assertThat(onContext(() -> svc.catalog.version("a", 1).servers())).containsExactlyInAnyOrder(1, 2, 3);
    assertThat(svc.healCopies).isEqualTo(2);
    assertThat(svc.healLooks).isEqualTo(1);
  }

  @Test
  void healsThatFailAreTriedAgainWithoutALookThroughTheCatalogEach() {
    // Server 3 takes every heal copy and every one fails (it refuses them, say): each
    // version waits and is tried again, without a look through the catalog per failure.
    ServerTable servers = threeAlive();
    ManagerService svc = service(servers);
    int versions = 100;
    long ticker = onContext(() -> {
      vertx.eventBus().<JsonObject>consumer(dev.backup.cluster.Addresses.prepare(3), m -> m.reply(new JsonObject()));
      vertx.eventBus().<JsonObject>consumer(dev.backup.cluster.Addresses.copy(1), m -> m.fail(1, "refused"));
      svc.serversChanged();
      for (int i = 0; i < versions; i++) {
        svc.catalog.commit("f" + i, 2, new Catalog.Version(1, 10, "00", 1, List.of(1, 2)));
      }
      servers.onMemberRemoved(2);
      svc.serversChanged();
      return vertx.setPeriodic(100, t -> svc.heal()); // (the manager's tick, faster)
    });
    try {
      // Three rounds: at once, 1 s after, 2 s after that (well within the 10-s rescan).
      org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(9))
          .until(() -> onContext(() -> svc.healCopies) >= 3L * versions);
      assertThat(onContext(() -> svc.healLooks)).as("looks through the catalog").isEqualTo(1);
    } finally {
      vertx.cancelTimer(ticker);
    }
  }

  @Test
  void aLargeCatalogIsGoneThroughAStepAtATimeForStatusAndForHeals() {
    // More files than a step takes: status's counts and a heal's look come after a few
    // turns of the event loop, each step a few ms, not one turn of a quarter of a second
    // a million files.
    ServerTable servers = threeAlive();
    ManagerService svc = service(servers);
    int files = 2 * Steps.SIZE + 5_000;
    boolean[] atOnce = onContext(() -> {
      copiesFromServer1Succeed(svc);
      svc.serversChanged();
      for (int i = 0; i < files; i++) {
        // Every 5,000th file has one copy of the two it wants.
        svc.catalog.commit(String.format("f%06d", i), 2,
            new Catalog.Version(1, 10, "00", 1, i % 5_000 == 0 ? List.of(1) : List.of(1, 2)));
      }
      boolean statusAtOnce = svc.health().isComplete();
      svc.heal();
      return new boolean[] {statusAtOnce, svc.healCopies > 0};
    });
    assertThat(atOnce).as("status, heal copies started in the same turn").containsExactly(false, false);
    org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(10))
        .until(() -> onContext(() -> svc.healCopies) == files / 5_000);
    JsonObject health = onContext(() -> svc.health()).toCompletionStage().toCompletableFuture().join();
    assertThat(health.getInteger("files")).isEqualTo(files);
    org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(10)).until(() -> onContext(() -> svc.health())
        .toCompletionStage().toCompletableFuture().join().getInteger("underReplicated") == 0);
    assertThat(svc.healLooks).isEqualTo(1);
  }

  @Test
  void aWalkThroughTheCatalogThatFailsEndsWithItsFailure() {
    ManagerService svc = service(threeAlive());
    int files = Steps.SIZE + 10;
    List<Object> ends = new java.util.concurrent.CopyOnWriteArrayList<>();
    onContext(() -> {
      for (int i = 0; i < files; i++) {
        svc.catalog.commit(String.format("f%06d", i), 1, new Catalog.Version(1, 10, "00", 1, List.of(1)));
      }
      int[] seen = {0};
      svc.walkCatalog(e -> {
        if (++seen[0] == files - 5) { // (in the second step)
          throw new IllegalStateException("broken");
        }
      }, failure -> ends.add(failure == null ? "done" : failure.getMessage()));
      return null;
    });
    org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(5)).until(() -> !ends.isEmpty());
    assertThat(ends).containsExactly("broken");
  }

  @Test
  void aServerWhoseDamagedCopyIsNotRemovedYetGetsNoNewCopyOfThatVersion() {
    ServerTable servers = threeAlive();
    ManagerService svc = service(servers);
    List<Integer> asked = new java.util.concurrent.CopyOnWriteArrayList<>();
    for (int id = 1; id <= 3; id++) {
      int target = id;
      vertx.eventBus().<JsonObject>consumer(dev.backup.cluster.Addresses.prepare(target), m -> {
        asked.add(target);
        m.fail(1, "not now");
      });
    }
    // Server 2's copy of "a" v1 is found damaged while servers 2 and 3 are away: its
    // removal waits for server 2's return, and no server can take a new copy.
    onContext(() -> {
      svc.serversChanged();
      svc.catalog.commit("a", 2, new Catalog.Version(1, 10, "00", 1, List.of(1, 2)));
      servers.onMemberRemoved(2);
      servers.onMemberRemoved(3);
      svc.serversChanged();
      svc.badCopy(2, "a", 1, "0bad");
      return null;
    });
    // Server 2 is back, its damaged copy still there: no new copy goes to it (the removal,
    // which names only the version, would take it).
    onContext(() -> {
      servers.onReport(report(2), true, ServerTable.now());
      svc.serversChanged();
      svc.heal();
      return null;
    });
    assertThat(onContext(() -> svc.healCopies)).as("heal copies started (at once, before any is asked)").isZero();
    assertThat(asked).isEmpty();
    // Server 3 is back: it gets the new copy.
    onContext(() -> {
      servers.onReport(report(3), true, ServerTable.now());
      svc.serversChanged();
      svc.heal();
      return null;
    });
    org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(5)).until(() -> asked.contains(3));
    assertThat(asked).doesNotContain(2);
  }

  @Test
  void aHealThatFailsAtOnceWaitsBeforeItIsTriedAgain() throws Exception {
    // No server answers on this Vert.x's event bus: every heal copy fails at once.
    ServerTable servers = threeAlive();
    ManagerService svc = service(servers);
    long start = ServerTable.now();
    onContext(() -> {
      svc.serversChanged();
      svc.catalog.commit("a", 2, new Catalog.Version(1, 10, "00", 1, List.of(1)));
      svc.heal();
      return null;
    });
    // The manager's ticks for most of a second, each as if half a second after the start:
    // tried once, not again (it backs off for a second from its failure, which came after
    // the start).
    while (ServerTable.now() < start + 900) {
      onContext(() -> {
        svc.heal(start + 500);
        return null;
      });
      Thread.sleep(50);
    }
    assertThat(onContext(() -> svc.healCopies)).isEqualTo(1);
    // Then it is tried again.
    org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(10))
        .until(() -> onContext(() -> {
          svc.heal();
          return svc.healCopies;
        }) >= 2);
    // Failed again (it now waits two seconds), then a server's health changes: the set of
    // servers is another, the version is tried again at once.
    org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(10))
        .until(() -> onContext(() -> svc.health().result().getInteger("healing")) == 0);
    long copies = onContext(() -> svc.healCopies);
    assertThat(onContext(() -> {
      servers.onMemberRemoved(3);
      svc.heal();
      return svc.healCopies;
    })).isEqualTo(copies + 1);
  }

  @Test
  void aHealWhoseCopyArrivesDamagedIsTriedFromAnotherHolderAndItsSourceChecked() {
    // "a" v1 wants 3 copies, on servers 1, 2 and 3; server 3 dies and server 4 is the target.
    // Server 1's copy arrives damaged at the target (rotted there, not yet found by scrub):
    // the next try takes server 2's, and server 1 is asked to check its copy now.
    io.vertx.core.Context context = vertx.getOrCreateContext();
    java.util.List<Integer> copiedFrom = new java.util.concurrent.CopyOnWriteArrayList<>();
    java.util.List<Integer> checked = new java.util.concurrent.CopyOnWriteArrayList<>();
    ServerTable servers = new ServerTable(5_000);
    ManagerService svc = onContext(context, () -> {
      for (int id = 1; id <= 4; id++) {
        servers.onReport(report(id), true, ServerTable.now() - 60_000);
      }
      ManagerService s = new ManagerService(vertx,
          TestSupport.healGrace(TestSupport.config(Role.manager, 0, 7000, 7000, dir), 0), servers,
          () -> Future.succeededFuture());
      s.catalog.commit("a", 3, new Catalog.Version(1, 10, "00", 1, List.of(1, 2, 3)));
      servers.onMemberRemoved(3);
      s.serversChanged();
      // The servers, on the manager's context.
      io.vertx.core.eventbus.EventBus bus = vertx.eventBus();
      bus.<JsonObject>consumer(dev.backup.cluster.Addresses.prepare(4), m -> m.reply(new JsonObject()));
      bus.<JsonObject>consumer(dev.backup.cluster.Addresses.copy(1), m -> {
        copiedFrom.add(1);
        m.fail(dev.backup.protocol.ErrorCode.INTEGRITY.code(), "the copy's checksum does not match");
      });
      bus.<JsonObject>consumer(dev.backup.cluster.Addresses.copy(2), m -> {
        copiedFrom.add(2);
        s.catalog.addHolder("a", 1, 4); // (the target's report of its copy)
        m.reply(new JsonObject());
      });
      bus.<JsonObject>consumer(dev.backup.cluster.Addresses.verify(1), m -> {
        checked.add(1);
        // (Its bytes check out: the damage was on the way. The holder stays.)
        io.vertx.core.json.JsonArray results = new io.vertx.core.json.JsonArray();
        m.body().getJsonArray("items").forEach(o -> results.add(((JsonObject) o).copy().put("status", "ok")));
        m.reply(new JsonObject().put("results", results));
      });
      return s;
    });
    // The manager's rounds: load reports (each resets its server's transfers in progress)
    // and a look for heals, as its verticle does.
    long timer = onContext(context, () -> vertx.setPeriodic(100, t -> {
      for (int id : new int[] {1, 2, 4}) {
        servers.onReport(report(id), true, ServerTable.now());
      }
      svc.heal();
    }));
    try {
      org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(10))
          .until(() -> copiedFrom.contains(2));
      assertThat(copiedFrom).as("first from server 1, then from server 2").startsWith(1, 2);
      assertThat(checked).containsExactly(1);
      assertThat(onContext(context, () -> svc.catalog.version("a", 1).servers())).containsExactly(1, 2, 4);
    } finally {
      vertx.cancelTimer(timer);
    }
  }

  @Test
  void moreCopiesForAFolderOfThousandsOfFilesEndWhenOneOfThemTakesACopy() {
    // The first file needs a copy (server to server: it takes a while), the thousands after
    // it have their copies already (done at once): the change must still end, and answer.
    io.vertx.core.Context context = vertx.getOrCreateContext();
    int files = 5_000;
    ServerTable servers = new ServerTable(5_000);
    Future<JsonObject> answer = onContext(context, () -> {
      for (int id = 1; id <= 4; id++) {
        servers.onReport(report(id), true, ServerTable.now());
      }
      ManagerService s = new ManagerService(vertx,
          TestSupport.healGrace(TestSupport.config(Role.manager, 0, 7000, 7000, dir), 600), servers,
          () -> Future.succeededFuture());
      s.serversChanged();
      s.catalog.commit("d/f0", 2, new Catalog.Version(1, 10, "00", 1, List.of(1, 2)));
      for (int i = 1; i < files; i++) {
        s.catalog.commit("d/f" + i, 3, new Catalog.Version(1, 10, "00", 1, List.of(1, 2, 3)));
      }
      io.vertx.core.eventbus.EventBus bus = vertx.eventBus();
      for (int id = 1; id <= 4; id++) {
        bus.<JsonObject>consumer(dev.backup.cluster.Addresses.prepare(id), m -> m.reply(new JsonObject()));
        bus.<JsonObject>consumer(dev.backup.cluster.Addresses.copy(id), m -> vertx.setTimer(50,
            t -> m.reply(new JsonObject())));
      }
      return s.handle(new JsonObject().put("op", "replicas").put("path", "d").put("replicas", 3));
    });
    JsonObject done = answer.toCompletionStage().toCompletableFuture()
        .completeOnTimeout(null, 20, java.util.concurrent.TimeUnit.SECONDS).join();
    assertThat(done).as("answered").isNotNull();
    assertThat(done.getInteger("changeCount")).isEqualTo(files);
  }

  private static <T> T onContext(io.vertx.core.Context context, java.util.function.Supplier<T> body) {
    io.vertx.core.Promise<T> p = io.vertx.core.Promise.promise();
    context.runOnContext(x -> p.complete(body.get()));
    return p.future().await();
  }
}
