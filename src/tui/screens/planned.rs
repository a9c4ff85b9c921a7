//! The Storage, Budgets, Projects and Idle tabs, for areas of the API that later versions of
//! the daemon serve. Each asks the daemon whether it serves its area and shows the answer
//! plainly; none shows a figure the daemon did not give. A tab moves to a file of its own when
//! its area lands.

use ratatui::Frame;
use ratatui::layout::Rect;

use crate::tui::app::App;
use crate::tui::data::Area;
use crate::tui::theme::Theme;
use crate::tui::widgets::area_tab;

pub fn render(frame: &mut Frame, rect: Rect, app: &App, area: Area, theme: &Theme) {
    let title = match area {
        Area::Storage => "Storage",
        Area::Budgets => "Budgets",
        Area::Projects => "Projects",
        Area::Idle => "Idle",
    };
    area_tab(frame, rect, app, area, title, theme);
}
