//! Teleport's server timings (api-extensions.md, "Server timings"): a
//! request with `"timings": true` gets `exData` on every answer and
//! notification, Unix-epoch nanoseconds of when its frame was read, when
//! it was parsed and when the answer was built (for a notification: when
//! its block was stored, when it was built, when it was queued).

use std::time::{SystemTime, UNIX_EPOCH};

/// Nanoseconds since the Unix epoch on the system clock.
pub(crate) fn unix_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// When something began: read and parsed, or stored and built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Stamp {
    pub(crate) before_create: u64,
    pub(crate) created: u64,
}

impl Stamp {
    /// A request read at `read` and parsed now.
    pub(crate) fn parsed(read: u64) -> Stamp {
        Stamp {
            before_create: read,
            created: unix_nanos(),
        }
    }

    /// `answer` (a JSON object) with `exData`, handled now.
    pub(crate) fn stamp(self, mut answer: String) -> String {
        debug_assert!(answer.ends_with('}'), "answers are JSON objects");
        answer.pop();
        let handled = unix_nanos();
        answer.push_str(&format!(
            r#","exData":{{"beforeCreate":{},"created":{},"handled":{handled}}}}}"#,
            self.before_create, self.created
        ));
        answer
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ex_data_is_added_to_the_answer_object_in_order() {
        let stamp = Stamp {
            before_create: 5,
            created: 7,
        };
        let stamped = stamp.stamp(r#"{"type":"answer","id":1,"result":{"a":[1]}}"#.to_owned());
        let value: serde_json::Value = serde_json::from_str(&stamped).expect("JSON");
        assert_eq!(value["result"]["a"][0], 1);
        assert_eq!(value["exData"]["beforeCreate"], 5);
        assert_eq!(value["exData"]["created"], 7);
        let handled = value["exData"]["handled"].as_u64().expect("a number");
        assert!(handled >= 7, "{handled}");
    }
}
