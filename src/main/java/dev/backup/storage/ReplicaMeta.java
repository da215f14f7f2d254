package dev.backup.storage;

import io.vertx.core.json.JsonObject;

/** The metadata kept beside each replica, enough to rebuild the catalog from the disks. */
public record ReplicaMeta(String name, long version, long size, String sha256, long createdMillis,
                          int replicasWanted) {
  public JsonObject toJson() {
    return new JsonObject().put("v", 1).put("name", name).put("version", version).put("size", size)
        .put("sha256", sha256).put("created", createdMillis).put("replicas", replicasWanted);
  }

  public static ReplicaMeta fromJson(JsonObject j) {
    return new ReplicaMeta(j.getString("name"), j.getLong("version"), j.getLong("size"),
        j.getString("sha256"), j.getLong("created", 0L), j.getInteger("replicas", 0));
  }
}
