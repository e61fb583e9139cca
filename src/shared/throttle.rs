//! The login throttle in Redis: one record per account for every instance.

use std::fmt;
use std::time::Duration;

use redis::aio::ConnectionManager;

use super::{RedisConfig, connection_manager, redis_error, with_reconnect};
use crate::login::{ThrottlePolicy, ThrottleStore};
use crate::verify::revocation::BoxError;

/// Counts an attempt on every key at once, or answers the longest block among them, with
/// Redis's own clock (so instances whose clocks differ agree). The same rules as the in-memory
/// throttle: the attempt counts as a failure from now on; past `free_failures` each failure
/// blocks for `base × 2^(n − free − 1)`, capped; a record lives `forget_after` past its last
/// failure, and at least until its block ends.
///
/// KEYS: the records. ARGV: free_failures, base_ms, max_ms, forget_ms.
/// Returns `{0, wait_ms}` when blocked, else `{1, before_1, set_1, before_2, set_2, …}`.
const RESERVE: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local free = tonumber(ARGV[1])
local base = tonumber(ARGV[2])
local maxd = tonumber(ARGV[3])
local forget = tonumber(ARGV[4])
local wait = 0
for _, k in ipairs(KEYS) do
  local blocked = tonumber(redis.call('HGET', k, 'until') or '0') or 0
  if blocked - now > wait then wait = blocked - now end
end
if wait > 0 then return {0, wait} end
local out = {1}
for _, k in ipairs(KEYS) do
  local before = redis.call('HGET', k, 'until') or ''
  local failures = redis.call('HINCRBY', k, 'failures', 1)
  local set = ''
  local ttl = forget
  if failures > free then
    local over = math.min(failures - free - 1, 31)
    local delay = math.min(base * (2 ^ over), maxd)
    set = string.format('%d', now + delay)
    redis.call('HSET', k, 'until', set)
    if delay > ttl then ttl = delay end
  else
    redis.call('HDEL', k, 'until')
  end
  redis.call('PEXPIRE', k, math.floor(ttl))
  table.insert(out, before)
  table.insert(out, set)
end
return out
";

/// Gives an attempt back: one failure less, and its block undone unless a later attempt has set
/// another since. KEYS: the records. ARGV: per key, the block before and the block set.
const CANCEL: &str = r"
for i, k in ipairs(KEYS) do
  if redis.call('EXISTS', k) == 1 then
    if redis.call('HINCRBY', k, 'failures', -1) < 0 then
      redis.call('HSET', k, 'failures', 0)
    end
    local current = redis.call('HGET', k, 'until') or ''
    local before = ARGV[2 * i - 1]
    if current == ARGV[2 * i] then
      if before == '' then redis.call('HDEL', k, 'until') else redis.call('HSET', k, 'until', before) end
    end
  end
end
return 1
";

/// The login throttle shared by every instance through Redis: an attacker gets the free
/// failures once, not once per instance. Attempts are reserved atomically by a Lua script on
/// Redis's clock, so a burst of parallel wrong passwords spread over any number of instances
/// costs at most `free_failures + 1` password checks.
///
/// Records expire on their own (`forget_after` past the last failure, and never before their
/// block ends): Redis needs no clean-up, but must not evict them (`maxmemory-policy
/// noeviction`). A Redis that cannot be reached answers the login 503, never lets it through
/// unthrottled.
#[derive(Clone)]
pub struct RedisThrottle {
    conn: ConnectionManager,
    policy: ThrottlePolicy,
    prefix: String,
    reserve: redis::Script,
    cancel: redis::Script,
}

impl fmt::Debug for RedisThrottle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisThrottle")
            .field("policy", &self.policy)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

/// An attempt reserved in Redis: each record's key with the block it had and the one it set.
#[derive(Debug)]
pub struct RedisTicket(Vec<(String, String, String)>);

impl RedisThrottle {
    /// Connects to the Redis at `url` (`redis://…`, `rediss://…` with the feature `redis-tls`)
    /// and applies `policy` (its `capacity` and `clock` play no part: Redis bounds the records by
    /// expiry and measures time itself).
    ///
    /// # Errors
    ///
    /// When Redis cannot be reached.
    pub async fn connect(
        url: &str,
        policy: ThrottlePolicy,
        config: &RedisConfig,
    ) -> Result<Self, BoxError> {
        Ok(Self {
            conn: connection_manager(url, config).await?,
            policy,
            prefix: format!("{}:throttle:", config.prefix),
            reserve: redis::Script::new(RESERVE),
            cancel: redis::Script::new(CANCEL),
        })
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl ThrottleStore for RedisThrottle {
    type Ticket = RedisTicket;

    async fn reserve(&self, keys: &[String]) -> Result<Result<RedisTicket, Duration>, BoxError> {
        let keys: Vec<String> = keys.iter().map(|k| self.key(k)).collect();
        let args = [
            u64::from(self.policy.free_failures),
            millis(self.policy.base_delay).max(1),
            millis(self.policy.max_delay.min(crate::login::MAX_THROTTLE_DELAY)).max(1),
            millis(self.policy.forget_after).max(1),
        ];
        let reply: Vec<redis::Value> = with_reconnect(&self.conn, |mut conn| {
            let (keys, script) = (&keys, &self.reserve);
            async move {
                let mut invocation = script.prepare_invoke();
                for key in keys {
                    invocation.key(key);
                }
                for arg in args {
                    invocation.arg(arg);
                }
                invocation.invoke_async(&mut conn).await
            }
        })
        .await
        .map_err(|e| redis_error("reserving a login attempt", &e))?;
        let text = |v: &redis::Value| -> Result<String, BoxError> {
            redis::from_redis_value_ref::<String>(v)
                .map_err(|e| format!("unexpected reply of the throttle script: {e}").into())
        };
        let number = |v: &redis::Value| -> Result<i64, BoxError> {
            redis::from_redis_value_ref::<i64>(v)
                .map_err(|e| format!("unexpected reply of the throttle script: {e}").into())
        };
        match reply.first().map(number).transpose()? {
            Some(0) => {
                let wait = reply.get(1).map(number).transpose()?.unwrap_or(1000);
                Ok(Err(Duration::from_millis(u64::try_from(wait).unwrap_or(1))))
            }
            Some(1) if reply.len() == 1 + 2 * keys.len() => {
                let mut ticket = Vec::with_capacity(keys.len());
                for (i, key) in keys.into_iter().enumerate() {
                    ticket.push((key, text(&reply[1 + 2 * i])?, text(&reply[2 + 2 * i])?));
                }
                Ok(Ok(RedisTicket(ticket)))
            }
            _ => Err("unexpected reply of the throttle script".into()),
        }
    }

    async fn succeeded(&self, ticket: RedisTicket) -> Result<(), BoxError> {
        let keys: Vec<&str> = ticket.0.iter().map(|(k, ..)| k.as_str()).collect();
        let del = redis::cmd("DEL").arg(&keys).clone();
        with_reconnect(&self.conn, |mut conn| {
            let del = del.clone();
            async move { del.query_async::<i64>(&mut conn).await }
        })
        .await
        .map_err(|e| redis_error("clearing a login record", &e))?;
        Ok(())
    }

    async fn cancel(&self, ticket: RedisTicket) -> Result<(), BoxError> {
        with_reconnect(&self.conn, |mut conn| {
            let (ticket, script) = (&ticket, &self.cancel);
            async move {
                let mut invocation = script.prepare_invoke();
                for (key, before, set) in &ticket.0 {
                    invocation.key(key).arg(before).arg(set);
                }
                invocation.invoke_async::<i64>(&mut conn).await
            }
        })
        .await
        .map_err(|e| redis_error("giving a login attempt back", &e))?;
        Ok(())
    }
}
