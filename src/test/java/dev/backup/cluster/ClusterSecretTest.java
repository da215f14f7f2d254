package dev.backup.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.backup.TestCerts;
import dev.backup.TestSupport;
import dev.backup.config.Config;
import io.vertx.core.eventbus.ReplyException;
import io.vertx.core.eventbus.ReplyFailure;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/**
 * Real Hazelcast members on loopback: a member with the cluster's name but another secret
 * is not let in, one with the same name and secret is (and their event bus, over TLS with
 * certificates on both sides, carries messages).
 */
class ClusterSecretTest extends RealMembers {
  @Test
  void theDerivedNameDependsOnNameAndSecret() {
    String a = Clustering.hazelcastClusterName("backup", "s1");
    assertThat(a).startsWith("backup-").isEqualTo(Clustering.hazelcastClusterName("backup", "s1"))
        .isNotEqualTo(Clustering.hazelcastClusterName("backup", "s2"))
        .isNotEqualTo(Clustering.hazelcastClusterName("backup2", "s1"))
        .doesNotContain("s1");
  }

  @Test
  void aMemberWithAnotherSecretIsRefusedAndOneWithTheSameSecretJoins() throws Exception {
    TestCerts.Set certs = TestCerts.make(dir.resolve("tls"));
    String name = "secret-test-" + UUID.randomUUID();
    int[] ports = {TestSupport.freePort(), TestSupport.freePort(), TestSupport.freePort()};
    // Every member joins through the first one (as servers join through the manager).
    List<String> members = List.of("127.0.0.1:" + ports[0]);

    Clustering.Clustered first = start(member(1, ports[0], members, name, "the-secret", certs));
    Clustering.Clustered stranger = start(member(2, ports[1], members, name, "another-secret", certs));
    // Each started alone: the stranger reached the first member during its join and was refused.
    assertThat(first.hazelcast().getCluster().getMembers()).hasSize(1);
    assertThat(stranger.hazelcast().getCluster().getMembers()).hasSize(1);

    Clustering.Clustered friend = start(member(3, ports[2], members, name, "the-secret", certs));
    await().atMost(Duration.ofSeconds(20)).until(() -> first.hazelcast().getCluster().getMembers().size() == 2
        && friend.hazelcast().getCluster().getMembers().size() == 2);
    assertThat(stranger.hazelcast().getCluster().getMembers()).hasSize(1);

    // The event bus between the two members (TLS, certificates on both sides) carries a request.
    first.vertx().eventBus().<String>consumer("secret-test.echo", m -> m.reply("echo " + m.body()))
        .completion().await();
    await().atMost(Duration.ofSeconds(10)).ignoreExceptions().until(() ->
        "echo hi".equals(friend.vertx().eventBus().<String>request("secret-test.echo", "hi").await().body()));
    assertThatThrownBy(() -> stranger.vertx().eventBus().request("secret-test.echo", "hi").await())
        .isInstanceOfSatisfying(ReplyException.class, e -> assertThat(e.failureType()).isEqualTo(ReplyFailure.NO_HANDLERS));
  }

  private Config member(int id, int clusterPort, List<String> members, String name, String secret,
                        TestCerts.Set certs) {
    return TestSupport.member(id, clusterPort, members, name, secret, dir.resolve("m" + id))
        .withTls(certs.cert(), certs.key(), certs.ca());
  }
}
