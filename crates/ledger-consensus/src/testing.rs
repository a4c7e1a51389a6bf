//! For tests of networks (feature `testing`): a TCP proxy to put on the
//! path between two validators, which can partition them.

use std::net::SocketAddr;

use tokio::sync::watch;

/// A TCP proxy on the path from one validator to another that can
/// black-hole its traffic: while cut, bytes are neither forwarded nor
/// refused (a partition, not a crash), and new connections hang; healed,
/// the held connections are closed so the validators dial afresh.
pub struct Link {
    /// The validator that dials through it.
    pub from: usize,
    /// The validator it leads to.
    pub to: usize,
    cut: watch::Sender<bool>,
}

impl Link {
    /// A link from validator `from` to validator `to`, who listens at
    /// `target`; returns it and where `from` should dial. Runs on the
    /// current Tokio runtime.
    pub fn new(from: usize, to: usize, target: SocketAddr) -> std::io::Result<(Link, SocketAddr)> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let address = listener.local_addr()?;
        let listener = tokio::net::TcpListener::from_std(listener)?;
        let (cut, watch) = watch::channel(false);
        tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                tokio::spawn(carry(inbound, target, watch.clone()));
            }
        });
        Ok((Link { from, to, cut }, address))
    }

    /// Cuts the link (`true`) or heals it (`false`).
    pub fn cut(&self, cut: bool) {
        self.cut.send_replace(cut);
    }
}

/// Cuts (`true`) or heals every link of `links` to or from `validator`:
/// a partition that isolates it.
pub fn isolate(links: &[Link], validator: usize, cut: bool) {
    for link in links
        .iter()
        .filter(|l| l.from == validator || l.to == validator)
    {
        link.cut(cut);
    }
}

/// Carries one connection while the link is whole; holds it silently
/// while cut; drops it once healed.
async fn carry(
    mut inbound: tokio::net::TcpStream,
    target: SocketAddr,
    mut cut: watch::Receiver<bool>,
) {
    if !*cut.borrow() {
        let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await else {
            return;
        };
        tokio::select! {
            _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => return,
            _ = cut.wait_for(|cut| *cut) => {}
        }
        // Cut: both sockets stay open and nothing moves until healed.
    }
    let _ = cut.wait_for(|cut| !*cut).await;
}
