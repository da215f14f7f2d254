package dev.backup.cluster;

import com.hazelcast.config.Config;
import com.hazelcast.config.JoinConfig;
import com.hazelcast.config.NetworkConfig;
import com.hazelcast.core.HazelcastInstance;
import dev.backup.config.Tls;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;

/** Starts a clustered Vert.x on Hazelcast, tuned to notice a dead member within seconds. */
public final class Clustering {
  public static final String ATTR_ROLE = "backup.role";
  public static final String ATTR_ID = "backup.id";

  private Clustering() {
  }

  public record Clustered(Vertx vertx, RoutedClusterManager clusterManager) {
    public HazelcastInstance hazelcast() {
      return clusterManager.getHazelcastInstance();
    }
  }

  public static Config hazelcastConfig(dev.backup.config.Config c) {
    // What vertx-hazelcast's default-cluster.xml says, built here: parsing and validating
    // that XML costs each element a noticeable share of its start on a small machine.
    Config hz = new Config();
    hz.addMultiMapConfig(new com.hazelcast.config.MultiMapConfig("__vertx.subs").setBackupCount(1)
        .setValueCollectionType(com.hazelcast.config.MultiMapConfig.ValueCollectionType.SET));
    hz.addMapConfig(new com.hazelcast.config.MapConfig("__vertx.haInfo").setBackupCount(1));
    hz.addMapConfig(new com.hazelcast.config.MapConfig("__vertx.nodeInfo").setBackupCount(1));
    hz.setClusterName(hazelcastClusterName(c.clusterName(), c.secret()));
    hz.setProperty("hazelcast.phone.home.enabled", "false");
    hz.setProperty("hazelcast.logging.type", "slf4j");
    hz.setProperty("hazelcast.heartbeat.interval.seconds", String.valueOf(c.heartbeatSeconds()));
    hz.setProperty("hazelcast.max.no.heartbeat.seconds", String.valueOf(c.maxNoHeartbeatSeconds()));
    hz.setProperty("hazelcast.merge.first.run.delay.seconds", "5");
    hz.setProperty("hazelcast.merge.next.run.delay.seconds", "5");
    hz.setProperty("hazelcast.tcp.join.port.try.count", "10");
    hz.setProperty("hazelcast.wait.seconds.before.join", "0");
    // A partition migration that does not finish in 15 s is given up and planned again
    // (Hazelcast's default waits 300 s). The maps here are a few entries; what made a
    // migration wait was its target being frozen (a paused server): meanwhile every
    // operation on the partitions involved was refused as "migrating", for minutes (a
    // restarted server could not publish its event-bus address and gave up).
    hz.setProperty("hazelcast.partition.migration.timeout", "15");
    hz.setProperty("hazelcast.shutdownhook.enabled", "false");
    hz.getMemberAttributeConfig().setAttribute(ATTR_ROLE, c.role().name());
    hz.getMemberAttributeConfig().setAttribute(ATTR_ID, String.valueOf(c.id()));
    NetworkConfig net = hz.getNetworkConfig();
    net.setPort(c.clusterPort()).setPortAutoIncrement(true);
    net.setPublicAddress(null);
    String ip = resolve(c.host());
    hz.setProperty("hazelcast.socket.bind.any", "false");
    net.getInterfaces().setEnabled(true).clear().addInterface(ip);
    JoinConfig join = net.getJoin();
    join.getMulticastConfig().setEnabled(false);
    join.getAutoDetectionConfig().setEnabled(false);
    join.getTcpIpConfig().setEnabled(true).setMembers(membersByAddress(c.members())).setConnectionTimeoutSeconds(2);
    return hz;
  }

  /**
   * The Hazelcast cluster name: the configured name and a digest (HMAC-SHA256, keyed with
   * the cluster secret) of it. Hazelcast refuses a joining member whose cluster name is not
   * its own, so a member with another name or another secret never joins; the secret itself
   * is never sent.
   */
  public static String hazelcastClusterName(String name, String secret) {
    try {
      javax.crypto.Mac mac = javax.crypto.Mac.getInstance("HmacSHA256");
      mac.init(new javax.crypto.spec.SecretKeySpec(secret.getBytes(java.nio.charset.StandardCharsets.UTF_8),
          "HmacSHA256"));
      byte[] digest = mac.doFinal(("backup-cluster:" + name).getBytes(java.nio.charset.StandardCharsets.UTF_8));
      return name + "-" + java.util.HexFormat.of().formatHex(digest, 0, 16);
    } catch (java.security.GeneralSecurityException e) {
      throw new IllegalStateException("HmacSHA256 is part of every Java runtime", e);
    }
  }

  /**
   * Members named by address where the name resolves now. Hazelcast takes a member named
   * by its own host name as its address, and then does not recognise itself when others
   * reach it by IP (seen with container service names); addresses avoid that. A name that
   * does not resolve yet is kept, for Hazelcast to try again.
   */
  static java.util.List<String> membersByAddress(java.util.List<String> members) {
    java.util.List<String> out = new java.util.ArrayList<>();
    for (String m : members) {
      int colon = m.lastIndexOf(':');
      String host = colon > 0 ? m.substring(0, colon) : m;
      String port = colon > 0 ? m.substring(colon) : "";
      try {
        out.add(java.net.InetAddress.getByName(host).getHostAddress() + port);
      } catch (java.net.UnknownHostException e) {
        out.add(m);
      }
    }
    return out;
  }

  private static String resolve(String host) {
    try {
      return java.net.InetAddress.getByName(host).getHostAddress();
    } catch (java.net.UnknownHostException e) {
      throw new dev.backup.protocol.BackupException(dev.backup.protocol.ErrorCode.USAGE,
          "cannot resolve --host " + host);
    }
  }

  public static Future<Clustered> start(dev.backup.config.Config c) {
    RoutedClusterManager cm = new RoutedClusterManager(hazelcastConfig(c));
    // A loop held longer than 2 s is reported with the stack that held it (the default
    // prints the stack only after 5 s), so that a stall seen once can be traced.
    VertxOptions options = dev.backup.config.VertxSetup.options().setWarningExceptionTime(2)
        .setWarningExceptionTimeUnit(java.util.concurrent.TimeUnit.SECONDS);
    // The event bus is advertised by address: peers connecting to a name resolve it on
    // their event loop, and a lookup that hangs (seen for a paused container's name) would
    // stall them for seconds.
    String ip = resolve(c.host());
    options.getEventBusOptions().setHost(ip).setPort(0).setClusterPublicHost(ip);
    Tls.eventBus(c, options.getEventBusOptions());
    return Vertx.builder().with(options).withClusterManager(cm).buildClustered()
        .map(v -> new Clustered(v, cm));
  }
}
